//! The errno names a policy may use for denials.

/// Names and values accepted by `errno = "…"`.
const TABLE: &[(&str, i32)] = &[
    ("EACCES", libc::EACCES),
    ("EPERM", libc::EPERM),
    ("ENOENT", libc::ENOENT),
    ("EROFS", libc::EROFS),
    ("ENOTDIR", libc::ENOTDIR),
    ("EISDIR", libc::EISDIR),
    ("EEXIST", libc::EEXIST),
    ("EINVAL", libc::EINVAL),
    ("EIO", libc::EIO),
    ("ENXIO", libc::ENXIO),
    ("ENOSYS", libc::ENOSYS),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
    ("ECONNREFUSED", libc::ECONNREFUSED),
    ("ENETUNREACH", libc::ENETUNREACH),
    ("EHOSTUNREACH", libc::EHOSTUNREACH),
    ("ETIMEDOUT", libc::ETIMEDOUT),
    ("EADDRINUSE", libc::EADDRINUSE),
    ("EADDRNOTAVAIL", libc::EADDRNOTAVAIL),
    ("EAFNOSUPPORT", libc::EAFNOSUPPORT),
];

/// The value of an errno name (upper case, as in C).
pub(crate) fn parse(name: &str) -> Option<i32> {
    TABLE.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The name of an errno value, or its number.
pub(crate) fn name(value: i32) -> String {
    TABLE
        .iter()
        .find(|(_, v)| *v == value)
        .map_or_else(|| value.to_string(), |(n, _)| (*n).to_owned())
}

/// Every accepted name, for hints.
pub(crate) fn names() -> Vec<&'static str> {
    TABLE.iter().map(|(n, _)| *n).collect()
}
