//! statx(2) into the wire form.

use std::ffi::CStr;
use std::os::fd::RawFd;

use arbiter_protocol::WireStat;

use crate::core::errno::Errno;

/// statx(dirfd, name, flags) with every basic field requested.
pub fn statx(dirfd: RawFd, name: &CStr, flags: i32) -> Result<WireStat, Errno> {
    // SAFETY: statx is plain old data; zero is a valid initial value.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: name is NUL-terminated; st is a valid out-pointer for the call's duration.
    let rc = unsafe {
        libc::statx(
            dirfd,
            name.as_ptr(),
            flags,
            libc::STATX_BASIC_STATS | libc::STATX_BTIME | libc::STATX_MNT_ID,
            &mut st,
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(WireStat {
        mask: st.stx_mask,
        blksize: st.stx_blksize,
        attributes: st.stx_attributes,
        nlink: st.stx_nlink,
        uid: st.stx_uid,
        gid: st.stx_gid,
        mode: st.stx_mode,
        ino: st.stx_ino,
        size: st.stx_size,
        blocks: st.stx_blocks,
        attributes_mask: st.stx_attributes_mask,
        atime: (st.stx_atime.tv_sec, st.stx_atime.tv_nsec),
        btime: (st.stx_btime.tv_sec, st.stx_btime.tv_nsec),
        ctime: (st.stx_ctime.tv_sec, st.stx_ctime.tv_nsec),
        mtime: (st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec),
        rdev_major: st.stx_rdev_major,
        rdev_minor: st.stx_rdev_minor,
        dev_major: st.stx_dev_major,
        dev_minor: st.stx_dev_minor,
        mnt_id: st.stx_mnt_id,
    })
}

/// The file type bits of a mode.
pub fn file_type(mode: u16) -> u32 {
    u32::from(mode) & libc::S_IFMT
}
