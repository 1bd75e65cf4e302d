//! The sandbox's private temporary directory (`$TMPDIR` of the command and of the policy),
//! created while the rules are checked, the program is found and the policy is compiled,
//! rather than before.
//!
//! The directory's name is chosen first, so the policy can be expanded and compiled with
//! it: `arbiter-` and six characters of `[A-Za-z0-9]` from `getrandom` (about 36 bits), as
//! long as the names `tempfile` made before — unix socket paths beneath `$TMPDIR`
//! (Python's multiprocessing puts its listeners there) must fit `sun_path`'s 108 bytes.
//! A thread creates it meanwhile, with `mkdir(2)` mode 0700, which fails rather than reuse
//! anything already there (a name nobody can predict, and never a symlink followed): an
//! accidental clash ends the run with `EEXIST` named in the error, never a shared
//! directory. [`Making::wait`] joins that thread before
//! anything looks at the directory on disk (the kernel floor's survey opens it for
//! Landlock). On this project's test VMs (ext4 without a journal) a directory created in a
//! busy `/tmp` costs about 1 ms of kernel time — the allocator skips inodes deleted in the
//! last minutes — which the rest of the start-up overlaps on a second CPU: `arbiter run`
//! starts it right after `--chdir` (docs/performance.md, "Session 8").

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

/// The directory being created ([`PrivateTmp::start`]); [`Making::wait`] for it. Dropped
/// without waiting (an invalid policy), it waits for the thread and removes what it made.
pub struct Making {
    path: PathBuf,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

/// The created directory, removed when dropped (one `rmdir` when the command left it empty,
/// as most do; else the whole tree).
pub struct PrivateTmp {
    path: PathBuf,
}

impl PrivateTmp {
    /// Chooses `PARENT/arbiter-XXXXXX` (PARENT being [`std::env::temp_dir`] with its
    /// symlinks resolved, `XXXXXX` [`NAME_CHARS`] random characters of `[A-Za-z0-9]`) and
    /// starts creating it. The returned path is the directory's real path once it exists.
    pub fn start() -> std::io::Result<Making> {
        let parent = std::env::temp_dir();
        let parent = parent.canonicalize().unwrap_or(parent);
        let path = parent.join(format!("arbiter-{}", random_name()?));
        let making = path.clone();
        let thread = std::thread::Builder::new()
            .name("tmpdir".into())
            .spawn(move || {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new().mode(0o700).create(&making)
            })?;
        Ok(Making {
            path,
            thread: Some(thread),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Making {
    /// The directory's path (it may not exist yet).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits until the directory exists; the error is `mkdir`'s.
    pub fn wait(mut self) -> std::io::Result<PrivateTmp> {
        self.made().map(|()| PrivateTmp {
            path: self.path.clone(),
        })
    }

    /// Joins the thread (once); its `mkdir` result.
    fn made(&mut self) -> std::io::Result<()> {
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the mkdir thread panicked"))),
            None => Err(std::io::Error::other("already waited for")),
        }
    }
}

impl Drop for Making {
    fn drop(&mut self) {
        if self.thread.is_some() && self.made().is_ok() {
            let _ = std::fs::remove_dir(&self.path);
        }
    }
}

impl Drop for PrivateTmp {
    fn drop(&mut self) {
        if std::fs::remove_dir(&self.path).is_err() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// How many random characters the name has (as `tempfile`'s names had).
pub const NAME_CHARS: usize = 6;

/// [`NAME_CHARS`] characters drawn uniformly from `[A-Za-z0-9]` (bytes of 248 and above
/// are drawn again, so each of the 62 characters is equally likely).
fn random_name() -> std::io::Result<String> {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut name = String::with_capacity(NAME_CHARS);
    while name.len() < NAME_CHARS {
        let mut bytes = [0u8; 16];
        fill_random(&mut bytes)?;
        for b in bytes.iter().filter(|b| **b < 248) {
            if name.len() < NAME_CHARS {
                name.push(char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]));
            }
        }
    }
    Ok(name)
}

/// Fills `buf` from the kernel's random pool (`getrandom(2)`, blocking until it is seeded).
fn fill_random(buf: &mut [u8]) -> std::io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: rest is a valid writable buffer of rest.len() bytes.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        filled += n as usize;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::PrivateTmp;

    #[test]
    fn created_private_and_removed_with_what_it_holds() {
        use std::os::unix::fs::PermissionsExt;
        let making = PrivateTmp::start().expect("start");
        let path = making.path().to_path_buf();
        let tmp = making.wait().expect("created");
        assert_eq!(tmp.path(), path);
        let name = path.file_name().unwrap().to_str().unwrap();
        let random = name.strip_prefix("arbiter-").expect("the prefix");
        assert_eq!(random.len(), super::NAME_CHARS, "{name}");
        assert!(random.bytes().all(|b| b.is_ascii_alphanumeric()), "{name}");
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::write(path.join("left"), "x").expect("write in it");
        drop(tmp);
        assert!(!path.exists(), "{} was not removed", path.display());
    }

    #[test]
    fn an_existing_name_is_an_error_not_reused() {
        let making = PrivateTmp::start().expect("start");
        let path = making.path().to_path_buf();
        let first = making.wait().expect("created");
        // The same name again: mkdir refuses it.
        let again = super::Making {
            path: path.clone(),
            thread: Some(std::thread::spawn({
                let p = path.clone();
                move || std::fs::create_dir(p)
            })),
        };
        let err = again.wait().err().expect("EEXIST");
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert!(
            path.is_dir(),
            "the refused attempt removed the first directory"
        );
        drop(first);
    }

    #[test]
    fn dropped_unwaited_leaves_nothing() {
        let making = PrivateTmp::start().expect("start");
        let path = making.path().to_path_buf();
        drop(making);
        assert!(!path.exists(), "{} was left behind", path.display());
    }
}
