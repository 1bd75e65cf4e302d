//! The handshake between `arbiter run --daemon` (the launcher) and `arbiter serve`.
//!
//! 1. The launcher connects to the daemon's `SOCK_SEQPACKET` socket and sends one
//!    [`Hello`].
//! 2. The daemon identifies the launcher by what the kernel attests on the connection
//!    (`SO_PEERCRED`, `SO_PEERGROUPS`, `SO_PEERPIDFD`) — never by anything in the hello —
//!    chooses a policy, and answers with one
//!    [`HelloReply`]. An accepted reply carries exactly one fd (`SCM_RIGHTS`): the sandbox's
//!    bootstrap socket, which the launcher places at
//!    [`DEFAULT_BOOTSTRAP_FD`](crate::DEFAULT_BOOTSTRAP_FD) before it confines itself
//!    (sending its seccomp listener on that socket, as `arbiter run`'s child does) and
//!    execs the command.
//!    A refused reply carries no fd and a reason for the user.
//! 3. The connection is then closed; the sandbox lives as long as its bootstrap socket.
//!
//! The daemon handshake is versioned on its own ([`DAEMON_VERSION`]); a daemon refuses a
//! hello of another version with a reason instead of guessing.

use serde::{Deserialize, Serialize};

/// Version of the daemon handshake spoken by this build.
/// Version 2 sends the whole command line in the hello and the shim's path in the reply.
pub const DAEMON_VERSION: u32 = 2;

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
    /// The command line, each argument followed by a NUL byte, for the audit log only
    /// (the `start` record's `command`); see [`split_argv`].
    pub argv: &'a [u8],
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
    /// The shim the daemon serves (its own build, speaking its protocol version): the
    /// launcher preloads this one and adds it to its Landlock floor, and the daemon's
    /// seccomp transport opens exactly this file for `ld.so` (empty when refused).
    pub shim: &'a [u8],
}

/// The arguments of a [`Hello::argv`]: NUL-terminated, the last terminator optional.
pub fn split_argv(argv: &[u8]) -> impl Iterator<Item = &[u8]> {
    argv.strip_suffix(b"\0")
        .unwrap_or(argv)
        .split(|&b| b == 0)
        .filter(move |_| !argv.is_empty())
}

/// The version a hello of any handshake version starts with, so that a daemon can name it
/// when the rest does not decode.
pub fn hello_version(bytes: &[u8]) -> Option<u32> {
    postcard::take_from_bytes::<u32>(bytes).ok().map(|(v, _)| v)
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
        // The command line is NUL-separated (audit only): each argument is a NUL-free string
        // of bounded length, and the program's name a valid path form.
        for (i, arg) in split_argv(self.argv).enumerate() {
            if i == 0 {
                check_path_bytes(Arg::Argv0, arg, true)?;
            } else if arg.len() > crate::MAX_PATH {
                return Err(Invalid::TooLong {
                    what: Arg::Argv0,
                    len: arg.len(),
                    max: crate::MAX_PATH,
                });
            }
        }
        Ok(())
    }
}
