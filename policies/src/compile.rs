//! Compilation: merged rules → the indexes decisions walk.

use crate::digest::FnvMap;
use crate::glob::PathPattern;
use crate::load::Defaults;
use crate::net::{inet_rank, InetRule, NetTarget};
use crate::policy::{NetRules, Policy};
use crate::rule::{Family, Rule, RuleInfo, Target};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

/// Builds the policy. Infallible: everything that can be wrong was reported while parsing.
pub(crate) fn compile(rules: Vec<Rule>, defaults: Defaults) -> Policy {
    let mut roots: Vec<PathBuf> = vec![PathBuf::from("/")];
    let mut root_ids: FnvMap<Vec<u8>, u32> = FnvMap::default();
    root_ids.insert(b"/".to_vec(), 0);
    let mut root_of = |bytes: &[u8]| -> u32 {
        *root_ids.entry(bytes.to_vec()).or_insert_with(|| {
            roots.push(PathBuf::from(OsString::from_vec(bytes.to_vec())));
            u32::try_from(roots.len() - 1).expect("fewer than 2^32 roots")
        })
    };

    let mut fs = crate::trie::PathIndex::default();
    let mut connect = NetRules::default();
    let mut bind = NetRules::default();
    let mut resolve = crate::net::NameIndex::default();
    let mut infos = Vec::with_capacity(rules.len());

    for (i, rule) in rules.iter().enumerate() {
        let id = u32::try_from(i).expect("fewer than 2^32 rules");
        let allow = rule.allows();
        let mut add_path = |index: &mut crate::trie::PathIndex, p: &PathPattern| -> usize {
            let root = root_of(p.root());
            match p {
                PathPattern::Literal(l) => index.insert_literal(l, id, root),
                PathPattern::Glob(g) => index.insert_glob(g.clone(), id, allow, root),
            }
            root as usize
        };
        let root = match (&rule.target, rule.family) {
            (Target::Path(p), _) => Some(add_path(&mut fs, p)),
            (Target::Net(t), family) => {
                let net = if family == Family::Bind {
                    &mut bind
                } else {
                    &mut connect
                };
                match t {
                    NetTarget::Unix(p) => Some(add_path(&mut net.unix, p)),
                    NetTarget::Abstract(n) => {
                        net.abstract_.insert(n, id);
                        None
                    }
                    NetTarget::Inet { addr, ports, proto } => {
                        net.inet.insert(
                            addr,
                            InetRule {
                                rule: id,
                                allow,
                                ports: ports.clone(),
                                proto: *proto,
                                rank: inet_rank(addr, ports, *proto),
                            },
                        );
                        None
                    }
                }
            }
            (Target::Name(h), _) => {
                resolve.insert(h, id);
                None
            }
        };
        infos.push(RuleInfo {
            family: rule.family,
            origin: rule.origin.clone(),
            text: rule.text(),
            root,
            allows: allow,
        });
    }
    let allows = |r: u32| rules[r as usize].allows();
    fs.finish(allows);
    connect.unix.finish(allows);
    bind.unix.finish(allows);
    let digest = crate::policy::digest(&rules, &defaults);
    Policy {
        rules,
        infos,
        roots,
        fs,
        connect,
        bind,
        resolve,
        defaults,
        digest,
    }
}
