//! Message buffers mapped with `mmap`, outside the thread's stack and its static TLS.
//!
//! A signal handler's call may run on a small alternate stack (`sigaltstack`), where a
//! 16 KiB buffer would not fit; and every thread pays for the shim's static TLS out of its
//! stack: glibc carves the TLS block from the stack the program asked for, so a program that
//! creates threads with small stacks gets `EINVAL` from `pthread_create` when that block
//! grows (node's worker threads did, with a second 16 KiB buffer there). `mmap` and `munmap`
//! are system calls, safe in a signal handler and a vfork child: no allocator, no lock.

use arbiter_protocol::MAX_MESSAGE;

/// A [`MAX_MESSAGE`]-byte anonymous mapping, unmapped when dropped.
pub struct MappedBuf {
    ptr: *mut u8,
}

impl MappedBuf {
    /// Maps a fresh buffer; `None` when the kernel refuses (out of memory or mappings).
    pub fn new() -> Option<Self> {
        // SAFETY: an anonymous private mapping touches no existing memory.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                MAX_MESSAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        (ptr != libc::MAP_FAILED).then_some(MappedBuf { ptr: ptr.cast() })
    }

    /// Gives up ownership: the mapping stays until [`MappedBuf::from_raw`] takes it back.
    pub fn into_raw(self) -> *mut u8 {
        let ptr = self.ptr;
        std::mem::forget(self);
        ptr
    }

    /// Takes back a mapping made by [`MappedBuf::new`] and released by
    /// [`MappedBuf::into_raw`].
    ///
    /// # Safety
    /// `ptr` came from `into_raw` and nothing else owns or uses it any more.
    pub unsafe fn from_raw(ptr: *mut u8) -> Self {
        MappedBuf { ptr }
    }

    /// The whole buffer.
    pub fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: ptr is a live mapping of MAX_MESSAGE bytes owned by self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, MAX_MESSAGE) }
    }
}

impl Drop for MappedBuf {
    fn drop(&mut self) {
        // SAFETY: ptr is our own mapping of MAX_MESSAGE bytes, unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), MAX_MESSAGE) };
    }
}
