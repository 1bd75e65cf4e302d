//! The wire protocol between arbiter's shim (inside the sandboxed program) and its broker.
//!
//! This crate is the one place that knows the format. It has no tokio and no allocation on the
//! encoding path, so the shim can use it from inside someone else's process.
//!
//! # Channels
//! * Every channel is an `AF_UNIX` `SOCK_SEQPACKET` socket: one message per packet, fds travel
//!   with the message (`SCM_RIGHTS`). A 0-byte packet is never sent: on these sockets it is
//!   indistinguishable from end of stream (see the seqpacket seed), so a 0-byte read means
//!   "peer closed".
//! * A sandboxed process inherits one *bootstrap* socket (its number is in the environment
//!   variable [`ENV_FD`]). It is used only one way: the shim sends [`Register`] messages on it,
//!   each carrying one end of a fresh socketpair. That end becomes a private *call channel*
//!   of one thread of one process, so a reply can never reach the wrong thread or process,
//!   even after `fork`. The broker stamps every message with the sender's kernel credentials
//!   (`SO_PASSCRED`), never trusting a pid written in a payload.
//! * On a call channel the broker first sends a [`Welcome`] (the version handshake), then one
//!   [`Reply`] per [`Request`], matching `id`. Several requests may be in flight on one channel;
//!   replies carry the id of the request they answer.
//!
//! # Limits
//! A message is at most [`MAX_MESSAGE`] bytes and carries at most [`MAX_FDS`] descriptors.
//! A path is at most [`MAX_PATH`] bytes (`PATH_MAX`), so a rename of two maximal paths fits.
//! Anything else is a protocol error: the broker closes that channel and audits why.

#![deny(missing_docs)]

pub mod call;
pub mod codec;
pub mod daemon;
pub mod fast_table;
pub mod fdpass;
pub mod fuzzing;
pub mod reply;
pub mod ring;
pub mod sockaddr;
pub mod valid;

pub use call::{At, Call, NetDbQuery, PathArg, Request, SockAddr, Timespec};
pub use codec::{decode, encode, CodecError};
pub use reply::{AddrInfoEntry, NetDbEntry, Payload, Reply, WireStat};
pub use valid::{Checked, Invalid};

use serde::{Deserialize, Serialize};

/// Protocol version spoken by this build. Bumped on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 2;

/// The stamp the shim library carries in its read-only data, so that `arbiter doctor` can
/// tell which version a library file is without loading it: `arbiter-shim/<crate version>/
/// protocol-<PROTOCOL_VERSION>`, NUL-terminated.
pub const SHIM_STAMP: &[u8] =
    concat!("arbiter-shim/", env!("CARGO_PKG_VERSION"), "/protocol-2\0").as_bytes();

/// Largest encoded message, request or reply, in bytes.
pub const MAX_MESSAGE: usize = 16 * 1024;

/// Most file descriptors one message may carry.
pub const MAX_FDS: usize = 4;

/// Longest path a request may carry (Linux `PATH_MAX`, including no terminator).
pub const MAX_PATH: usize = 4096;

/// Most bytes a [`Call::FastPaths`] reply carries (the shim's buffer).
pub const FAST_PATHS_MAX: usize = 4096;

/// [`Call::FastPaths`] entry: a subtree where the policy grants `stat` throughout, so the
/// shim may `stat` beneath it in-process.
pub const FAST_STAT: u8 = b's';

/// [`Call::FastPaths`] entry: a kernel-floor path the policy grants `read` (and `list`)
/// throughout, so the shim may open beneath it for reading in-process, with
/// [`NATIVE_OPEN_MARK`]; Landlock then decides exactly as the policy would.
pub const FAST_OPEN: u8 = b'o';

/// [`Call::FastPaths`] entry: a subtree where the policy grants `stat`, `read`, `list` and
/// `exec` throughout, so the shim may answer `access(R_OK|X_OK)` beneath it in-process with
/// the kernel's `faccessat2` (the `AT_EMPTY_PATH` form the seccomp filter lets through, like
/// a stat: `access` reveals only what the file's mode and owner already show). Never offered
/// when every call is recorded.
pub const FAST_ACCESS: u8 = b'x';

/// [`Call::FastPaths`] entry: a directory where the policy refuses `stat` (so every call)
/// with `EACCES` throughout and no rule beneath it decides otherwise, offered only when no
/// audit log records denials and no decider may be asked: the shim answers a probe beneath
/// it (a stat, an `access`: a shell's command search through `PATH` entries in the home
/// directory) with `EACCES` in-process, as the broker would, unless a symlink on the way
/// could lead elsewhere.
pub const FAST_DENY: u8 = b'd';

/// [`Call::FastPaths`] entry, always `/dev/tty`: the policy grants reading and writing the
/// controlling terminal, with the default audit setting, and the kernel floor's native
/// reads are on, so the shim may learn the program has no controlling terminal from a
/// marked read-only open of it (`ENXIO`, which is what the broker's open answers too)
/// instead of asking the broker.
pub const FAST_TTY: u8 = b't';

/// A bit of `openat(2)`'s flags that the kernel ignores (legacy `openat` drops unknown
/// flags). The seccomp notify filter lets a read-only `openat` carrying it run natively
/// under Landlock, instead of stopping it for the broker; it is installed so only when the
/// kernel floor grants no read the policy does not (see `docs/security.md`).
pub const NATIVE_OPEN_MARK: i32 = 1 << 30;

/// [`Call::FastPaths`] entry: a directory where the policy grants `remove` throughout, so
/// the shim may `unlinkat` beneath it in-process with [`NATIVE_REMOVE_MARK`]; Landlock,
/// which grants removing there and nowhere else, then decides exactly as the policy would.
pub const FAST_REMOVE: u8 = b'r';

/// A bit of `unlinkat(2)`'s flags register above the 32 bits the kernel reads (the
/// argument is an `int`: the kernel truncates the register, seccomp sees all 64 bits). The
/// seccomp notify filter lets an `unlinkat` carrying it run natively under Landlock instead
/// of stopping it for the broker; it is installed so only when Landlock grants removing
/// nowhere the policy does not (the policy's uniform `remove` grants; see
/// `docs/security.md`, "Native removals").
pub const NATIVE_REMOVE_MARK: u64 = 1 << 32;

/// Environment variable naming the inherited bootstrap socket's fd number.
pub const ENV_FD: &str = "ARBITER_FD";

/// Environment variable holding the shim's own path, so an exec'd program whose environment
/// was cleared can be given `LD_PRELOAD` again.
pub const ENV_SHIM: &str = "ARBITER_SHIM";

/// Environment variable set to `1` when the seccomp notify filter is installed: the shim
/// then lets `connect`, `bind` and `listen` go to the kernel, whose filter stops them for
/// the broker (which takes the socket with `pidfd_getfd`), instead of passing the socket by
/// `sendmsg`, which the filter would stop as well (two round trips). A program that
/// removes it only makes those calls slower; one that sets it falsely gets `EACCES` from the
/// syscall table (`arbiter run` and `arbiter serve` set or remove it to match the filter).
pub const ENV_SECCOMP: &str = "ARBITER_SECCOMP";

/// The fd number at which `arbiter run` places the bootstrap socket in the child.
pub const DEFAULT_BOOTSTRAP_FD: i32 = 1023;

/// First message on the bootstrap socket for each new call channel; carries the channel's fd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register {
    /// The protocol version the shim speaks.
    pub version: u32,
}

/// The tag that opens a [`SeccompListener`] message.
pub const SECCOMP_LISTENER_TAG: [u8; 4] = *b"SECL";

/// Hands a seccomp user-notification listener to the broker. Sent once on the bootstrap
/// socket by the process that installed the filter (`arbiter run`'s child between fork and
/// exec, or `arbiter serve`'s launcher), without fds: `sendmsg` is itself trapped by the
/// filter just installed, so the broker takes the listener (fd number
/// [`SeccompListener::fd`] in the sender, named by the message's kernel credentials) with
/// `pidfd_getfd`, then answers one byte on the bootstrap socket, which the sender waits for
/// before it closes its copy. Its tag's first byte (`S`, 0x53) is a whole one-byte varint,
/// so a [`Register`] never decodes from it (the bytes after it are trailing bytes, an
/// error); the broker checks the tag (fuzzed by `bootstrap_decoder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeccompListener {
    /// Always [`SECCOMP_LISTENER_TAG`].
    pub tag: [u8; 4],
    /// The protocol version of the sender.
    pub version: u32,
    /// The listener's fd number in the sender.
    pub fd: i32,
}

/// First message the broker sends on a new call channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The protocol version the broker speaks. The shim refuses a channel of another version.
    pub version: u32,
    /// Whether the broker accepted the channel; a refused channel is closed right after.
    pub accepted: bool,
}
