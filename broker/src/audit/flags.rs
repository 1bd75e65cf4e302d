//! Flag values rendered by name for audit records.

/// `O_*` open flags by name, access mode first.
pub fn open_flags(flags: i32) -> Vec<&'static str> {
    let mut out = vec![match flags & libc::O_ACCMODE {
        libc::O_RDONLY => "O_RDONLY",
        libc::O_WRONLY => "O_WRONLY",
        _ => "O_RDWR",
    }];
    const NAMED: &[(i32, &str)] = &[
        (libc::O_CREAT, "O_CREAT"),
        (libc::O_EXCL, "O_EXCL"),
        (libc::O_NOCTTY, "O_NOCTTY"),
        (libc::O_TRUNC, "O_TRUNC"),
        (libc::O_APPEND, "O_APPEND"),
        (libc::O_NONBLOCK, "O_NONBLOCK"),
        (libc::O_DSYNC, "O_DSYNC"),
        (libc::O_DIRECT, "O_DIRECT"),
        // The kernel's value: libc defines O_LARGEFILE as 0 on 64-bit targets.
        (0o100000, "O_LARGEFILE"),
        (libc::O_DIRECTORY, "O_DIRECTORY"),
        (libc::O_NOFOLLOW, "O_NOFOLLOW"),
        (libc::O_NOATIME, "O_NOATIME"),
        (libc::O_CLOEXEC, "O_CLOEXEC"),
        (libc::O_PATH, "O_PATH"),
    ];
    let tmpfile = flags & libc::O_TMPFILE == libc::O_TMPFILE;
    for &(bit, name) in NAMED {
        if bit == libc::O_DIRECTORY && tmpfile {
            continue;
        }
        if flags & bit == bit {
            out.push(name);
        }
    }
    if flags & libc::O_SYNC == libc::O_SYNC {
        out.retain(|n| *n != "O_DSYNC");
        out.push("O_SYNC");
    }
    if tmpfile {
        out.push("O_TMPFILE");
    }
    out
}

/// `AT_*` flags by name. `AT_REMOVEDIR` and `AT_EACCESS` share a bit: `eaccess` says
/// which of the two the call means.
pub fn at_flags(flags: i32, eaccess: bool) -> Vec<&'static str> {
    let shared = if eaccess {
        "AT_EACCESS"
    } else {
        "AT_REMOVEDIR"
    };
    let named: [(i32, &str); 4] = [
        (libc::AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"),
        (libc::AT_REMOVEDIR, shared),
        (libc::AT_SYMLINK_FOLLOW, "AT_SYMLINK_FOLLOW"),
        (libc::AT_EMPTY_PATH, "AT_EMPTY_PATH"),
    ];
    named
        .iter()
        .filter(|(b, _)| flags & b == *b)
        .map(|(_, n)| *n)
        .collect()
}

/// access(2) mode by name.
pub fn access_mode(mode: i32) -> Vec<&'static str> {
    if mode == libc::F_OK {
        return vec!["F_OK"];
    }
    [
        (libc::R_OK, "R_OK"),
        (libc::W_OK, "W_OK"),
        (libc::X_OK, "X_OK"),
    ]
    .iter()
    .filter(|(b, _)| mode & b != 0)
    .map(|(_, n)| *n)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_name_the_access_mode_and_each_bit() {
        assert_eq!(
            open_flags(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC),
            ["O_WRONLY", "O_CREAT", "O_TRUNC", "O_CLOEXEC"]
        );
        assert_eq!(open_flags(libc::O_RDONLY), ["O_RDONLY"]);
        assert_eq!(
            open_flags(libc::O_RDWR | libc::O_TMPFILE),
            ["O_RDWR", "O_TMPFILE"]
        );
    }
}
