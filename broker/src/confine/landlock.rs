//! The Landlock layer: the ruleset is built in the parent with the `landlock` crate; the
//! child only calls `prctl(PR_SET_NO_NEW_PRIVS)` and `landlock_restrict_self(fd)`.
//!
//! Landlock restricts only the calling thread on kernels without TSYNC (ABI < 8), so it
//! must be applied in the single-threaded forked child, never in the broker.

use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;

use landlock::{Access, AccessFs, AccessNet, BitFlags, Ruleset, RulesetAttr, Scope, ABI};

use super::floor::{FloorAccess, SurveyFd, Surveyed};
use crate::sandbox::spawn::PreExec;

/// `LANDLOCK_CREATE_RULESET_VERSION`: ask the kernel for its ABI version.
const CREATE_RULESET_VERSION: libc::c_uint = 1;

/// `LANDLOCK_RULE_PATH_BENEATH`.
const RULE_PATH_BENEATH: libc::c_int = 1;

/// `struct landlock_path_beneath_attr`.
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// Building the ruleset failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The landlock crate refused a step.
    #[error("landlock: {0}")]
    Ruleset(#[from] landlock::RulesetError),
    /// `landlock_add_rule` failed.
    #[error("landlock: cannot add the rule for {path}: {source}")]
    AddRule {
        /// The floor entry.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The Landlock ABI of the running kernel, or `None` when Landlock is unsupported or
/// disabled (not in the `lsm=` list).
pub fn abi_version() -> Option<i32> {
    // SAFETY: a NULL attribute with size 0 and the VERSION flag only queries the ABI.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    (v > 0).then_some(v as i32)
}

/// The features of `abi` that arbiter uses, with whether each is available, in plain words.
pub fn features(abi: Option<i32>) -> Vec<(&'static str, bool)> {
    let v = abi.unwrap_or(0);
    vec![
        (
            "filesystem floor: read/exec only outside broker-passed fds (ABI 1)",
            v >= 1,
        ),
        ("rename/link across directories governed (ABI 2)", v >= 2),
        ("truncate governed (ABI 3)", v >= 3),
        ("TCP bind and connect denied (ABI 4)", v >= 4),
        ("ioctl on devices governed (ABI 5)", v >= 5),
        (
            "abstract unix sockets and signals scoped to the sandbox, so it cannot kill arbiter's guardian or broker and outlive them (ABI 6)",
            v >= 6,
        ),
    ]
}

/// A ruleset ready to be enforced in the child.
pub struct Domain {
    fd: OwnedFd,
}

/// The result of [`prepare`].
pub struct Prepared {
    /// The ruleset, or `None` when the kernel has no Landlock.
    pub domain: Option<Domain>,
    /// Features not enforced on this kernel, in plain words.
    pub missing: Vec<String>,
}

/// Builds the ruleset for `floor` at the best ABI the kernel offers, with `fds` the entries'
/// `O_PATH` fds from [`super::floor::survey`] (closed here). Floor entries that do not exist
/// are skipped.
pub fn prepare(floor: &[Surveyed], fds: Vec<SurveyFd>) -> Result<Prepared, Error> {
    let Some(version) = abi_version() else {
        return Ok(Prepared {
            domain: None,
            missing: vec!["Landlock (not supported or not enabled by this kernel)".into()],
        });
    };
    let missing = features(Some(version))
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(what, _)| format!("Landlock: {what}"))
        .collect();
    let abi = ABI::from(version);
    let all = AccessFs::from_all(abi);
    let read_exec = AccessFs::from_read(abi) | AccessFs::Execute;
    let read = AccessFs::ReadFile | AccessFs::ReadDir;
    let rw_file = AccessFs::ReadFile
        | AccessFs::WriteFile
        | (AccessFs::from_file(abi) & (AccessFs::Truncate | AccessFs::IoctlDev));
    let shared_memory = rw_file
        | AccessFs::ReadDir
        | AccessFs::MakeReg
        | AccessFs::RemoveFile
        | (AccessFs::from_all(abi) & AccessFs::Refer);
    let shared_memory_keep = shared_memory & !AccessFs::RemoveFile;
    let remove = AccessFs::RemoveFile | AccessFs::RemoveDir;
    let mut ruleset = Ruleset::default().handle_access(all)?;
    if version >= 4 {
        // Handled with no rule: every TCP bind and connect is denied.
        ruleset = ruleset.handle_access(AccessNet::from_all(abi))?;
    }
    if version >= 6 {
        ruleset = ruleset.scope(Scope::from_all(abi))?;
    }
    let ruleset: Option<OwnedFd> = ruleset.create()?.into();
    let Some(ruleset) = ruleset else {
        return Ok(Prepared {
            domain: None,
            missing,
        });
    };
    // The rules are added directly on the fds the survey opened: the crate's `PathFd` would
    // open each path again, and its `add_rule` `fstat` it again. The rights are already
    // what the crate would reduce them to (within this ABI; file rights only on a file).
    // Entries the survey found at one real path share its fd: their rights are joined into
    // one rule, which is what the kernel makes of several rules on one object anyway (a
    // ruleset keeps one rule per inode, the union of the rights added for it).
    let mut rules: Vec<(&Surveyed, Rc<OwnedFd>, BitFlags<AccessFs>)> = Vec::new();
    for (entry, fd) in floor.iter().zip(fds) {
        let (Some((is_dir, _)), Some(fd)) = (entry.kind, fd) else {
            continue;
        };
        let mut rights = match entry.access {
            FloorAccess::ReadExec | FloorAccess::ExecFile => read_exec,
            FloorAccess::ReadWriteFile => rw_file,
            FloorAccess::SharedMemory => shared_memory,
            FloorAccess::Read => read,
            FloorAccess::Remove => remove,
            FloorAccess::SharedMemoryKeep => shared_memory_keep,
        };
        if !is_dir {
            rights &= AccessFs::from_file(abi);
        }
        if rights.is_empty() {
            continue; // a directory's rights on what is now a file: nothing to grant
        }
        match rules
            .iter_mut()
            .find(|(_, other, _)| Rc::ptr_eq(other, &fd))
        {
            Some((_, _, joined)) => *joined |= rights,
            None => rules.push((entry, fd, rights)),
        }
    }
    for (entry, fd, rights) in rules {
        add_path_rule(&ruleset, &fd, rights.bits()).map_err(|source| Error::AddRule {
            path: entry.path.display().to_string(),
            source,
        })?;
    }
    Ok(Prepared {
        domain: Some(Domain { fd: ruleset }),
        missing,
    })
}

/// `landlock_add_rule(ruleset, LANDLOCK_RULE_PATH_BENEATH, {rights, parent}, 0)`.
fn add_path_rule(ruleset: &OwnedFd, parent: &OwnedFd, rights: u64) -> std::io::Result<()> {
    let attr = PathBeneathAttr {
        allowed_access: rights,
        parent_fd: parent.as_raw_fd(),
    };
    // SAFETY: attr is a valid landlock_path_beneath_attr for the call; both fds are open.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset.as_raw_fd(),
            RULE_PATH_BENEATH,
            &attr as *const PathBeneathAttr,
            0u32,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl Domain {
    /// The step that enforces this domain in the child: no-new-privs, then
    /// `landlock_restrict_self`. Makes system calls only.
    pub fn into_pre_exec(self) -> PreExec {
        let fd = self.fd;
        Box::new(move || {
            super::no_new_privs()?;
            // SAFETY: the fd is a Landlock ruleset kept open by this closure; flags 0.
            if unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd.as_raw_fd(), 0u32) } < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}
