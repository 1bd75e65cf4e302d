//! Network endpoints, and the parts of network rules: addresses, host-name patterns, ports,
//! protocols, and their indexes.

use crate::digest::FnvMap;
use crate::glob::NamePattern;
use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// What a program connects or binds to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A UDP address.
    Udp(SocketAddr),
    /// A pathname unix socket; the path must be absolute and canonical (the broker resolves
    /// it), as for [`Policy::decide_path`](crate::Policy::decide_path).
    Unix(PathBuf),
    /// An abstract unix socket name, without the leading NUL.
    Abstract(Vec<u8>),
}

/// `tcp`, `udp` or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Proto {
    Tcp,
    Udp,
    Any,
}

impl Proto {
    pub fn parse(s: &str) -> Option<Proto> {
        match s {
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            "any" => Some(Proto::Any),
            _ => None,
        }
    }

    fn admits(self, udp: bool) -> bool {
        match self {
            Proto::Any => true,
            Proto::Tcp => !udp,
            Proto::Udp => udp,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Any => "tcp+udp",
        }
    }
}

/// A set of ports as sorted, merged inclusive ranges; empty means any port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub(crate) struct Ports(Vec<(u16, u16)>);

impl Ports {
    /// Any port.
    pub fn any() -> Ports {
        Ports(Vec::new())
    }

    /// One port.
    pub fn one(p: u16) -> Ports {
        Ports(vec![(p, p)])
    }

    /// Parses `443`, `80,443`, `8000-8100`, `*` or `any`. On failure, the offending piece.
    pub fn parse(s: &str) -> Result<Ports, String> {
        let s = s.trim();
        if s == "*" || s == "any" {
            return Ok(Ports::any());
        }
        let mut ranges = Vec::new();
        for piece in s.split(',') {
            let piece = piece.trim();
            let port = |t: &str| t.trim().parse::<u16>().map_err(|_| piece.to_owned());
            let (lo, hi) = match piece.split_once('-') {
                Some((a, b)) => (port(a)?, port(b)?),
                None => (port(piece)?, port(piece)?),
            };
            if lo > hi {
                return Err(piece.to_owned());
            }
            ranges.push((lo, hi));
        }
        ranges.sort_unstable();
        let mut merged: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        Ok(Ports(merged))
    }

    pub fn contains(&self, port: u16) -> bool {
        self.0.is_empty() || self.0.iter().any(|&(lo, hi)| lo <= port && port <= hi)
    }

    /// Specificity: one port > a narrower set > a wider set > any port.
    fn rank(&self) -> (u8, u32) {
        if self.0.is_empty() {
            return (1, 0);
        }
        let count: u32 = self
            .0
            .iter()
            .map(|&(lo, hi)| u32::from(hi) - u32::from(lo) + 1)
            .sum();
        if count == 1 {
            (3, 0)
        } else {
            (2, 65_536 - count)
        }
    }
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("*");
        }
        for (i, &(lo, hi)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if lo == hi {
                write!(f, "{lo}")?;
            } else {
                write!(f, "{lo}-{hi}")?;
            }
        }
        Ok(())
    }
}

/// A host-name pattern: a name, `*.suffix` (one or more labels before the suffix), or `*`.
/// Names are compared in lower case without a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum HostPattern {
    Any,
    Exact(String),
    /// The suffix without the leading `*.`.
    Suffix(String),
}

impl HostPattern {
    /// Parses a name or pattern. On failure, a message and a hint.
    pub fn parse(s: &str) -> Result<HostPattern, (String, String)> {
        if s == "*" {
            return Ok(HostPattern::Any);
        }
        let (suffix, name) = match s.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let name = normalize(name);
        let bad = |why: &str, hint: &str| Err((format!("\"{s}\" {why}"), hint.to_owned()));
        if name.contains('*') {
            return bad(
                "has a `*` that is not a leading `*.`",
                "write `*.example.com` for every name under example.com, or `*` for any",
            );
        }
        if !name.is_ascii() {
            return bad(
                "is not ASCII",
                "write an internationalised name in its `xn--` (punycode) form",
            );
        }
        if name.is_empty() || name.len() > 253 {
            return bad("is not a host name", "write a name such as `example.com`");
        }
        for label in name.split('.') {
            if label.is_empty()
                || label.len() > 63
                || !label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return bad(
                    "is not a host name",
                    "names are dot-separated labels of letters, digits, `-` and `_`; \
                     addresses and CIDR blocks go in `ip`",
                );
            }
        }
        Ok(if suffix {
            HostPattern::Suffix(name.into_owned())
        } else {
            HostPattern::Exact(name.into_owned())
        })
    }

    fn rank(&self) -> (u8, u16) {
        match self {
            HostPattern::Exact(_) => (3, 0),
            HostPattern::Suffix(s) => (2, u16::try_from(s.split('.').count()).unwrap_or(0)),
            HostPattern::Any => (1, 0),
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Any => f.write_str("*"),
            HostPattern::Exact(n) => f.write_str(n),
            HostPattern::Suffix(s) => write!(f, "*.{s}"),
        }
    }
}

/// Lower case, no trailing dot; borrows when already normal.
pub(crate) fn normalize(name: &str) -> std::borrow::Cow<'_, str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(name.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it is.
pub(crate) fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Parses an address or CIDR block for `ip = …`. A block with host bits set is refused (it
/// is usually a typo for the address or for the network).
pub(crate) fn parse_ip(s: &str) -> Result<Addr, (String, String)> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(Addr::Ip(canonical_ip(ip)));
    }
    match s.parse::<IpNet>() {
        Ok(net) if net.trunc() != net => Err((
            format!("\"{s}\" has bits set after the prefix"),
            format!("did you mean `{}`?", net.trunc()),
        )),
        Ok(net) if net.prefix_len() == net.max_prefix_len() => {
            Ok(Addr::Ip(canonical_ip(net.addr())))
        }
        Ok(net) => Ok(Addr::Net(match net {
            IpNet::V6(v6) if v6.addr().to_ipv4_mapped().is_some() && v6.prefix_len() >= 96 => {
                IpNet::new(canonical_ip(IpAddr::V6(v6.addr())), v6.prefix_len() - 96)
                    .expect("a mapped prefix fits IPv4")
            }
            other => other,
        })),
        Err(_) => Err((
            format!("\"{s}\" is not an IP address or CIDR block"),
            "write an address (`127.0.0.1`, `::1`) or a block (`10.0.0.0/8`); names go in `host`"
                .into(),
        )),
    }
}

/// The address part of an inet rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Addr {
    Any,
    Ip(IpAddr),
    Net(IpNet),
    Host(HostPattern),
}

impl Addr {
    /// Specificity: an address > a CIDR block (longer prefix first) > a host name > a
    /// `*.suffix` pattern (more labels first) > any. Rules on addresses outrank rules on
    /// names because they are about the destination itself.
    fn rank(&self) -> (u8, u16) {
        match self {
            Addr::Ip(_) => (6, 0),
            Addr::Net(n) => (5, u16::from(n.prefix_len())),
            Addr::Host(h) => {
                let (c, d) = h.rank();
                (c + 1, d)
            }
            Addr::Any => (1, 0),
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Any => f.write_str("*"),
            Addr::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Addr::Ip(ip) => write!(f, "{ip}"),
            Addr::Net(n) => write!(f, "{n}"),
            Addr::Host(h) => write!(f, "{h}"),
        }
    }
}

/// What a network rule is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum NetTarget {
    Inet {
        addr: Addr,
        ports: Ports,
        proto: Proto,
    },
    Unix(crate::glob::PathPattern),
    Abstract(NamePattern),
}

impl fmt::Display for NetTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetTarget::Inet { addr, ports, proto } => {
                write!(f, "{} {addr}:{ports}", proto.name())
            }
            NetTarget::Unix(p) => write!(f, "unix {p}"),
            NetTarget::Abstract(n) => write!(f, "unix @{n}"),
        }
    }
}

/// An inet rule's fields needed at decision time.
#[derive(Debug, Clone)]
pub(crate) struct InetRule {
    pub rule: u32,
    pub allow: bool,
    pub ports: Ports,
    pub proto: Proto,
    pub rank: InetRank,
}

/// The total order of inet rules' specificity.
pub(crate) type InetRank = ((u8, u16), (u8, u32), u8);

pub(crate) fn inet_rank(addr: &Addr, ports: &Ports, proto: Proto) -> InetRank {
    (addr.rank(), ports.rank(), u8::from(proto != Proto::Any))
}

/// Host names and patterns → rules, looked up in time proportional to a name's labels.
#[derive(Debug, Clone, Default)]
pub(crate) struct NameIndex {
    exact: FnvMap<String, Vec<u32>>,
    suffix: FnvMap<String, Vec<u32>>,
    any: Vec<u32>,
}

impl NameIndex {
    pub fn insert(&mut self, pattern: &HostPattern, item: u32) {
        match pattern {
            HostPattern::Any => self.any.push(item),
            HostPattern::Exact(n) => self.exact.entry(n.clone()).or_default().push(item),
            HostPattern::Suffix(s) => self.suffix.entry(s.clone()).or_default().push(item),
        }
    }

    /// Calls `f` with every item whose pattern matches `name`.
    pub fn each(&self, name: &str, mut f: impl FnMut(u32)) {
        let name = normalize(name);
        let name: &str = &name;
        self.any.iter().for_each(|&i| f(i));
        if let Some(v) = self.exact.get(name) {
            v.iter().for_each(|&i| f(i));
        }
        for (i, b) in name.bytes().enumerate() {
            if b == b'.' {
                if let Some(v) = self.suffix.get(&name[i + 1..]) {
                    v.iter().for_each(|&i| f(i));
                }
            }
        }
    }
}

/// Inet rules by address: exact addresses and each CIDR prefix length in hash maps, host
/// patterns in a [`NameIndex`]. Items are indexes into `rules`.
#[derive(Debug, Clone, Default)]
pub(crate) struct InetIndex {
    pub rules: Vec<InetRule>,
    exact: FnvMap<IpAddr, Vec<u32>>,
    nets: Vec<(IpNet, FnvMap<IpAddr, Vec<u32>>)>,
    hosts: NameIndex,
    any: Vec<u32>,
}

impl InetIndex {
    pub fn insert(&mut self, addr: &Addr, rule: InetRule) {
        let item = u32::try_from(self.rules.len()).expect("fewer than 2^32 rules");
        self.rules.push(rule);
        match addr {
            Addr::Any => self.any.push(item),
            Addr::Ip(ip) => self.exact.entry(*ip).or_default().push(item),
            Addr::Host(h) => self.hosts.insert(h, item),
            Addr::Net(net) => {
                // Group blocks by family and prefix length; `net` of the group is a template
                // whose only use is `prefix_len`/family.
                let pos = self.nets.iter().position(|(n, _)| {
                    n.prefix_len() == net.prefix_len() && n.addr().is_ipv4() == net.addr().is_ipv4()
                });
                let pos = pos.unwrap_or_else(|| {
                    self.nets.push((*net, FnvMap::default()));
                    self.nets.len() - 1
                });
                self.nets[pos]
                    .1
                    .entry(net.network())
                    .or_default()
                    .push(item);
            }
        }
    }

    /// Calls `f` with each rule matching the address (by IP or, through `names`, by name),
    /// protocol and port.
    pub fn each(&self, addr: SocketAddr, udp: bool, names: &[&str], mut f: impl FnMut(&InetRule)) {
        let ip = canonical_ip(addr.ip());
        let port = addr.port();
        let mut offer = |item: u32| {
            let r = &self.rules[item as usize];
            if r.proto.admits(udp) && r.ports.contains(port) {
                f(r);
            }
        };
        self.any.iter().for_each(|&i| offer(i));
        if let Some(v) = self.exact.get(&ip) {
            v.iter().for_each(|&i| offer(i));
        }
        for (template, map) in &self.nets {
            if template.addr().is_ipv4() != ip.is_ipv4() {
                continue;
            }
            if let Ok(net) = IpNet::new(ip, template.prefix_len()) {
                if let Some(v) = map.get(&net.network()) {
                    v.iter().for_each(|&i| offer(i));
                }
            }
        }
        for name in names {
            self.hosts.each(name, &mut offer);
        }
    }
}

/// Abstract socket names → rules. Specificity: exact name > pattern.
#[derive(Debug, Clone, Default)]
pub(crate) struct AbstractIndex {
    exact: FnvMap<Vec<u8>, Vec<u32>>,
    globs: Vec<(Vec<crate::glob::Tok>, u32)>,
}

impl AbstractIndex {
    pub fn insert(&mut self, pattern: &NamePattern, rule: u32) {
        match pattern {
            NamePattern::Exact(n) => self.exact.entry(n.clone()).or_default().push(rule),
            NamePattern::Glob(t) => self.globs.push((t.clone(), rule)),
        }
    }

    /// The most specific rules matching `name` (all rules of the best rank).
    pub fn matching(&self, name: &[u8]) -> Vec<u32> {
        if let Some(v) = self.exact.get(name) {
            return v.clone();
        }
        self.globs
            .iter()
            .filter(|(t, _)| crate::glob::matches(t, name))
            .map(|(_, r)| *r)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_and_merge() {
        assert_eq!(Ports::parse("443").unwrap().to_string(), "443");
        assert_eq!(Ports::parse("80, 443,81").unwrap().to_string(), "80-81,443");
        assert_eq!(Ports::parse("8000-8100").unwrap().to_string(), "8000-8100");
        assert_eq!(Ports::parse("*").unwrap(), Ports::any());
        assert_eq!(Ports::parse("9-1"), Err("9-1".into()));
        assert_eq!(Ports::parse("70000"), Err("70000".into()));
        assert!(Ports::parse("").is_err());
        assert!(Ports::one(5).rank() > Ports::parse("1-2").unwrap().rank());
        assert!(Ports::parse("1-2").unwrap().rank() > Ports::parse("1-200").unwrap().rank());
        assert!(Ports::parse("1-200").unwrap().rank() > Ports::any().rank());
    }

    #[test]
    fn host_patterns() {
        assert_eq!(
            HostPattern::parse("Example.COM.").unwrap(),
            HostPattern::Exact("example.com".into())
        );
        assert_eq!(
            HostPattern::parse("*.example.com").unwrap(),
            HostPattern::Suffix("example.com".into())
        );
        assert!(HostPattern::parse("a*.example.com").is_err());
        assert!(HostPattern::parse("exa mple.com").is_err());
        assert!(HostPattern::parse("bücher.de").is_err());
        let mut ix = NameIndex::default();
        ix.insert(&HostPattern::parse("*.example.com").unwrap(), 0);
        ix.insert(&HostPattern::parse("example.com").unwrap(), 1);
        let hits = |n: &str| {
            let mut v = Vec::new();
            ix.each(n, |i| v.push(i));
            v
        };
        assert_eq!(hits("a.b.Example.com"), vec![0]);
        assert_eq!(hits("example.com"), vec![1]);
        assert_eq!(hits("badexample.com"), Vec::<u32>::new());
    }

    #[test]
    fn addresses() {
        assert_eq!(
            parse_ip("::ffff:10.0.0.1").unwrap(),
            Addr::Ip("10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            parse_ip("10.0.0.0/8").unwrap(),
            Addr::Net("10.0.0.0/8".parse().unwrap())
        );
        assert_eq!(
            parse_ip("10.0.0.1/32").unwrap(),
            Addr::Ip("10.0.0.1".parse().unwrap())
        );
        assert!(parse_ip("10.1.0.0/8").unwrap_err().1.contains("10.0.0.0/8"));
        assert!(parse_ip("example.com").is_err());
    }
}
