//! The handshake between `arbiter run --daemon` (the launcher) and `arbiter serve`.
//!
//! 1. The launcher connects to the daemon's `SOCK_SEQPACKET` socket and sends one
//!    [`Hello`].
//! 2. The daemon identifies the launcher by the kernel's `SO_PEERCRED` (uid, gid, pid) —
//!    never by anything in the hello — chooses a policy, and answers with one
//!    [`HelloReply`]. An accepted reply carries exactly one fd (`SCM_RIGHTS`): the sandbox's
//!    bootstrap socket, which the launcher places at
//!    [`DEFAULT_BOOTSTRAP_FD`](crate::DEFAULT_BOOTSTRAP_FD) before it execs the command.
//!    A refused reply carries no fd and a reason for the user.
//! 3. The connection is then closed; the sandbox lives as long as its bootstrap socket.
//!
//! The daemon handshake is versioned on its own ([`DAEMON_VERSION`]); a daemon refuses a
//! hello of another version with a reason instead of guessing.

use serde::{Deserialize, Serialize};

/// Version of the daemon handshake spoken by this build.
pub const DAEMON_VERSION: u32 = 1;

/// The launcher's first and only message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello<'a> {
    /// [`DAEMON_VERSION`] of the launcher.
    pub version: u32,
    /// The profile the user asked for (`--policy NAME`), or none for the daemon's default.
    pub profile: Option<&'a str>,
    /// The launcher's working directory, for the audit log only: the daemon reads the real
    /// one from `/proc/PID/cwd`.
    pub cwd: &'a [u8],
    /// The command's argv\[0\], for the audit log.
    pub argv0: &'a [u8],
}

/// The daemon's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloReply<'a> {
    /// [`DAEMON_VERSION`] of the daemon.
    pub version: u32,
    /// Whether a sandbox was made; only then does the message carry the bootstrap fd.
    pub accepted: bool,
    /// Why the client was refused (empty when accepted).
    pub reason: &'a str,
    /// The sandbox id, as it appears in the daemon's audit records.
    pub sandbox: u64,
    /// The profile the sandbox runs under.
    pub profile: &'a str,
    /// The sandbox's private temporary directory (the command's `TMPDIR`).
    pub tmpdir: &'a [u8],
}

/// The longest profile name a hello may ask for.
pub const PROFILE_NAME_MAX: usize = 64;

impl Hello<'_> {
    /// Validates the hello at the edge: a profile name is 1 to [`PROFILE_NAME_MAX`] bytes of
    /// ASCII letters, digits, `-`, `_` and `.`; `cwd` and `argv0` hold no NUL and are shorter
    /// than `PATH_MAX`. The error says what is wrong, for the refusal and the audit log.
    pub fn check(&self) -> Result<(), crate::Invalid> {
        use crate::valid::{check_path_bytes, Arg, Invalid};
        if let Some(p) = self.profile {
            let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
            if p.is_empty() || p.len() > PROFILE_NAME_MAX || !p.bytes().all(ok) {
                return Err(Invalid::NotText(Arg::Profile));
            }
        }
        check_path_bytes(Arg::Cwd, self.cwd, true)?;
        check_path_bytes(Arg::Argv0, self.argv0, true)?;
        Ok(())
    }
}
