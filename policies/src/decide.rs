//! Decisions: the questions the broker asks, and the answers.

use crate::access::Access;
use crate::net::{Endpoint, HostPattern};
use crate::policy::{NetRules, Policy};
use crate::rule::{AuditSetting, Family, RuleId, Target};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What decided a [`Decision`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecidedBy {
    /// The rule in [`Decision::rule`].
    Rule,
    /// The implicit `stat` on an ancestor of an allow rule's root; [`Decision::rule`] is that
    /// allow rule.
    ImplicitStat,
    /// The implicit `mkdir` of a directory on the way to the path of a rule that grants
    /// `create` there; [`Decision::rule`] is that rule.
    ImplicitMkdir,
    /// No rule matched: the family's default.
    Default(Family),
}

/// An answer: allowed or not, why, and how to report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Allowed or not.
    pub allow: bool,
    /// The rule that decided, `None` for the family default.
    pub rule: Option<RuleId>,
    /// errno for a denial (the rule's `errno`, else `[defaults] errno`, else `EACCES`);
    /// 0 when allowed.
    pub errno: i32,
    /// What the audit log should do with this decision.
    pub audit: AuditSetting,
    /// What decided.
    pub by: DecidedBy,
}

/// A decision on a path, with what the broker needs to open beneath the rule's root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathDecision {
    /// The decision.
    pub decision: Decision,
    /// Index into [`Policy::roots`] of the deciding rule's root: its literal path, or a
    /// pattern's literal prefix directory. `Some(0)` (`/`) for an allow by the implicit `stat`
    /// or by an allowing default; `None` for a denial by default.
    pub root: Option<usize>,
    /// True when every path strictly beneath the root is decided by the same rule(s): no
    /// other rule that could win there (a literal rule beneath it, or a pattern anchored at
    /// or beneath it) exists, and no allow pattern from above could grant the implicit
    /// `stat` there. Less specific rules that also cover the subtree never win in it and do
    /// not count. The broker may then open beneath the root with
    /// `openat2(RESOLVE_BENEATH)` and skip re-checking what it resolves there.
    pub uniform: bool,
}

/// A decision on a bind, with what the broker needs to create a unix socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindDecision {
    /// The decision.
    pub decision: Decision,
    /// For an allowed unix socket path: the rule's `mode` (permission bits), if it has one;
    /// otherwise the caller's umask applies.
    pub mode: Option<u32>,
    /// For an allowed unix socket path: the rule allows removing a stale socket file (one no
    /// process listens on) that is in the way.
    pub replace_stale: bool,
}

/// Among candidates, the most specific win; among equally specific, all must allow.
struct Pick<K> {
    best: Option<K>,
    chosen: u32,
    denied: Option<u32>,
}

impl<K: Ord + Copy> Pick<K> {
    fn new() -> Pick<K> {
        Pick {
            best: None,
            chosen: 0,
            denied: None,
        }
    }

    fn offer(&mut self, rank: K, rule: u32, allow: bool) {
        match self.best.map(|b| rank.cmp(&b)) {
            Some(std::cmp::Ordering::Less) => return,
            Some(std::cmp::Ordering::Equal) => self.chosen = self.chosen.min(rule),
            _ => {
                self.best = Some(rank);
                self.chosen = rule;
                self.denied = None;
            }
        }
        if !allow {
            self.denied = Some(self.denied.map_or(rule, |d| d.min(rule)));
        }
    }

    fn result(&self) -> Option<(u32, bool)> {
        self.best?;
        Some((self.denied.unwrap_or(self.chosen), self.denied.is_none()))
    }
}

/// True if `path` is absolute and lexically clean: no empty, `.` or `..` component and no
/// trailing `/` (except `/` itself).
fn is_clean(path: &[u8]) -> bool {
    if path == b"/" {
        return true;
    }
    path.first() == Some(&b'/')
        && path[1..]
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

impl Policy {
    fn by_rule(&self, rule: u32, allow: bool) -> Decision {
        let r = &self.rules[rule as usize];
        Decision {
            allow,
            rule: Some(RuleId(rule)),
            errno: if allow {
                0
            } else {
                r.errno.unwrap_or(self.defaults.errno)
            },
            audit: r.audit,
            by: DecidedBy::Rule,
        }
    }

    fn by_default(&self, family: Family, allow: bool) -> Decision {
        Decision {
            allow,
            rule: None,
            errno: if allow { 0 } else { self.defaults.errno },
            audit: self.defaults.audit,
            by: DecidedBy::Default(family),
        }
    }

    /// Decides `access` on `path`.
    ///
    /// `path` must be absolute and lexically clean (no `.`, `..`, `//` or trailing `/`) with
    /// symlinks already resolved; the broker guarantees this. A path that is not clean is
    /// denied by default (never matched), so a broker bug fails closed.
    ///
    /// The most specific matching rule decides (see the crate docs); if it does not grant
    /// every right asked for, the request is denied by that rule. A request for `stat` alone
    /// on an ancestor of an allow rule's root is allowed even where a rule denies it.
    pub fn decide_path(&self, path: &Path, access: Access) -> PathDecision {
        let bytes = path.as_os_str().as_bytes();
        if !is_clean(bytes) {
            return PathDecision {
                decision: self.by_default(Family::Fs, false),
                root: None,
                uniform: false,
            };
        }
        let allows = |r: u32| {
            let a = self.rules[r as usize].access;
            !a.is_empty() && a.contains(access)
        };
        let mut out = match self.fs.decide(bytes, allows) {
            Some(hit) => PathDecision {
                decision: self.by_rule(hit.rule, hit.allow),
                root: Some(hit.root as usize),
                uniform: hit.uniform,
            },
            None => {
                let d = self.defaults.fs;
                let allow = !d.is_empty() && d.contains(access);
                PathDecision {
                    decision: self.by_default(Family::Fs, allow),
                    root: allow.then_some(0),
                    uniform: false,
                }
            }
        };
        if !out.decision.allow && !access.is_empty() && Access::STAT.contains(access) {
            if let Some(rule) = self.fs.allow_beneath(bytes) {
                out = PathDecision {
                    decision: Decision {
                        allow: true,
                        rule: Some(RuleId(rule)),
                        errno: 0,
                        audit: AuditSetting::Default,
                        by: DecidedBy::ImplicitStat,
                    },
                    root: Some(0),
                    uniform: false,
                };
            }
        }
        out
    }

    /// Decides `mkdir` of the directory `path`: as [`Policy::decide_path`] decides `create`
    /// there, except that where that is refused and a literal rule strictly beneath `path`
    /// grants `create`, the directory is allowed as one on the way to that rule's path
    /// ([`DecidedBy::ImplicitMkdir`]): `mkdir -p` of a granted cache (`~/.cache/go-build`
    /// in a home without `~/.cache`). Only a directory, only empty: what it may then hold
    /// is decided by the rules on its own path.
    ///
    /// An explicit deny rule wins over the implicit mkdir: when the rule deciding `path` or
    /// any of its ancestors is a deny rule (`--deny X` at or above `path`), the directory is
    /// refused by that rule, even when a rule beneath `X` grants `create` (that rule still
    /// decides its own path and what lies beneath it, once the directories exist).
    pub fn decide_mkdir(&self, path: &Path) -> PathDecision {
        let out = self.decide_path(path, Access::CREATE);
        if out.decision.allow {
            return out;
        }
        let bytes = path.as_os_str().as_bytes();
        if !is_clean(bytes) {
            return out;
        }
        let creates = |r: u32| self.rules[r as usize].access.contains(Access::CREATE);
        let denied_on_the_way = || {
            path.ancestors().find_map(|a| {
                let d = self.decide_path(a, Access::CREATE);
                let deny_rule = d.decision.by == DecidedBy::Rule
                    && d.decision
                        .rule
                        .is_some_and(|r| !self.rules[r.0 as usize].allows());
                deny_rule.then_some(PathDecision {
                    uniform: false,
                    ..d
                })
            })
        };
        match self.fs.literal_beneath(bytes, creates) {
            Some(rule) => denied_on_the_way().unwrap_or(PathDecision {
                decision: Decision {
                    allow: true,
                    rule: Some(RuleId(rule)),
                    errno: 0,
                    audit: AuditSetting::Default,
                    by: DecidedBy::ImplicitMkdir,
                },
                root: Some(0),
                uniform: false,
            }),
            None => out,
        }
    }

    /// True if every path strictly beneath `path` is decided exactly as `path` itself: no
    /// rule (literal, pattern, or a pattern anchored above) can decide anywhere beneath it.
    /// The broker moves a directory only then, so a rename cannot carry a subtree some rule
    /// treats differently to where another rule decides it. `false` for a path that is not
    /// absolute and clean.
    pub fn decided_alone_beneath(&self, path: &Path) -> bool {
        let bytes = path.as_os_str().as_bytes();
        is_clean(bytes) && self.fs.nothing_beneath(bytes)
    }

    fn decide_net(
        &self,
        family: Family,
        rules: &NetRules,
        ep: &Endpoint,
        names: &[&str],
    ) -> Decision {
        let hit = match ep {
            Endpoint::Tcp(addr) | Endpoint::Udp(addr) => {
                let mut pick = Pick::new();
                rules
                    .inet
                    .each(*addr, matches!(ep, Endpoint::Udp(_)), names, |r| {
                        pick.offer(r.rank, r.rule, r.allow)
                    });
                pick.result()
            }
            Endpoint::Unix(path) => {
                let bytes = path.as_os_str().as_bytes();
                if is_clean(bytes) {
                    rules
                        .unix
                        .decide(bytes, |r| self.rules[r as usize].allows())
                        .map(|h| (h.rule, h.allow))
                } else {
                    None
                }
            }
            Endpoint::Abstract(name) => {
                let mut pick = Pick::new();
                for r in rules.abstract_.matching(name) {
                    pick.offer((), r, self.rules[r as usize].allows());
                }
                pick.result()
            }
        };
        match hit {
            Some((rule, allow)) => self.by_rule(rule, allow),
            None => self.by_default(family, self.defaults.allows(family)),
        }
    }

    /// Decides a connect (or a `sendto` with an address) to `ep`.
    ///
    /// `resolved_names` are the names whose lookups by this sandbox returned `ep`'s address
    /// (the broker remembers them); host-name rules match through them. A *numeric* connect,
    /// to an address the sandbox never looked up (`resolved_names` empty), is matched only by
    /// `ip` rules and rules with no address: `host = "localhost"` does not cover a connect to
    /// 127.0.0.1 unless the program looked up `localhost`. IPv4-mapped IPv6 addresses are
    /// matched as the IPv4 address.
    pub fn decide_connect(&self, ep: &Endpoint, resolved_names: &[&str]) -> Decision {
        self.decide_net(Family::Connect, &self.connect, ep, resolved_names)
    }

    /// Decides a bind to `ep`. A bind to the wildcard address (`0.0.0.0`, `::`) matches only
    /// rules that name that address or no address.
    pub fn decide_bind(&self, ep: &Endpoint) -> BindDecision {
        let decision = self.decide_net(Family::Bind, &self.bind, ep, &[]);
        let (mode, replace_stale) = match (decision.allow, decision.rule, ep) {
            (true, Some(RuleId(r)), Endpoint::Unix(_)) => {
                let rule = &self.rules[r as usize];
                (rule.mode, rule.replace_stale)
            }
            _ => (None, false),
        };
        BindDecision {
            decision,
            mode,
            replace_stale,
        }
    }

    /// Decides a name lookup (getaddrinfo and friends). The name is compared in lower case
    /// without a trailing dot. An exact name beats a `*.suffix` pattern, a longer suffix a
    /// shorter one, and any pattern beats `*`.
    pub fn decide_resolve(&self, name: &str) -> Decision {
        let mut pick = Pick::new();
        self.resolve.each(name, |r| {
            let rule = &self.rules[r as usize];
            let rank = match &rule.target {
                Target::Name(HostPattern::Exact(_)) => (3, 0),
                Target::Name(HostPattern::Suffix(s)) => (2, s.split('.').count()),
                _ => (1, 0),
            };
            pick.offer(rank, r, rule.allows());
        });
        match pick.result() {
            Some((rule, allow)) => self.by_rule(rule, allow),
            None => self.by_default(Family::Resolve, self.defaults.resolve),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths() {
        assert!(is_clean(b"/"));
        assert!(is_clean(b"/a/b"));
        for bad in [
            &b""[..],
            b"a",
            b"/a/",
            b"//a",
            b"/a/./b",
            b"/a/../b",
            b"/..",
        ] {
            assert!(!is_clean(bad), "{bad:?}");
        }
    }
}
