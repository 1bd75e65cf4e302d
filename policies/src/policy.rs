//! The compiled policy: loading, and what it tells about its rules.

use crate::access::Access;
use crate::digest::Fnv64;
use crate::error::{Diagnostics, PolicyError};
use crate::load::{self, Defaults};
use crate::net::{AbstractIndex, InetIndex};
use crate::rule::{Rule, RuleId, RuleInfo};
use crate::source::{Source, Vars};
use crate::trie::PathIndex;
use crate::{AuditSetting, Family};
use std::hash::Hasher;
use std::path::PathBuf;

/// A compiled policy: immutable, cheap to share between threads (`Send + Sync`), and built
/// so that a decision costs time proportional to the path's depth (or a name's labels), not
/// to the number of rules.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) rules: Vec<Rule>,
    pub(crate) infos: Vec<RuleInfo>,
    pub(crate) roots: Vec<PathBuf>,
    pub(crate) fs: PathIndex,
    pub(crate) connect: NetRules,
    pub(crate) bind: NetRules,
    pub(crate) resolve: crate::net::NameIndex,
    pub(crate) defaults: Defaults,
    pub(crate) digest: String,
}

/// The connect or bind rules of a policy, by kind of endpoint.
#[derive(Debug, Clone, Default)]
pub(crate) struct NetRules {
    pub inet: InetIndex,
    pub unix: PathIndex,
    pub abstract_: AbstractIndex,
}

/// A path the kernel (Landlock) may grant directly: see [`Policy::kernel_floor`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FloorEntry {
    /// A directory (the grant covers its subtree) or a file.
    pub path: PathBuf,
    /// Only [`Access::READ`], [`Access::LIST`] and [`Access::EXEC`] ever appear here.
    pub access: Access,
}

impl Policy {
    /// Loads `sources` in order, each merged over the ones before it (see the crate docs),
    /// with variables expanded from `vars`, and compiles the result.
    ///
    /// An empty list gives the empty policy, which denies everything. Never panics, whatever
    /// the input; every error found is reported, not just the first.
    pub fn load(sources: &[Source], vars: &Vars) -> Result<Policy, PolicyError> {
        Policy::from_loaded(load::load(sources, vars))
    }

    /// The policy of merged sources, or the first read error, or every error found.
    pub(crate) fn from_loaded(loaded: load::Loaded) -> Result<Policy, PolicyError> {
        if let Some(e) = loaded.read_error {
            return Err(e);
        }
        if !loaded.diags.is_empty() {
            return Err(PolicyError::Invalid(Diagnostics(loaded.diags)));
        }
        Ok(crate::compile::compile(loaded.rules, loaded.defaults))
    }

    /// The roots of the path rules (and unix-socket rules): each rule's literal path, or a
    /// pattern's literal prefix directory; deduplicated. `roots()[0]` is always `/`.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// What the policy knows about a rule. Panics if `id` is not from this policy.
    pub fn rule(&self, id: RuleId) -> &RuleInfo {
        &self.infos[id.0 as usize]
    }

    /// Every rule, in merge order (`RuleId(i)` is the i-th).
    pub fn rules(&self) -> &[RuleInfo] {
        &self.infos
    }

    /// The paths the kernel (Landlock) may grant directly, read/exec only: every literal path
    /// rule that allows `read` and/or `exec`, whose subtree no narrower rule can decide in
    /// (no rule beneath it, no pattern anchored at or beneath it), and whose audit setting is
    /// not `log` (the broker must see those uses). The access of an entry is the rule's
    /// rights restricted to read, list and exec. Pattern rules and defaults never appear.
    pub fn kernel_floor(&self) -> Vec<FloorEntry> {
        let mut out = Vec::new();
        for (rules, root) in self.fs.uniform_literals() {
            let mut access = Access::ALL;
            let mut ok = true;
            for &r in rules {
                let rule = &self.rules[r as usize];
                access = access & rule.access;
                ok &= rule.audit != AuditSetting::All;
            }
            let access = access & (Access::READ | Access::LIST | Access::EXEC);
            if ok && (access.contains(Access::READ) || access.contains(Access::EXEC)) {
                out.push(FloorEntry {
                    path: self.roots[root as usize].clone(),
                    access,
                });
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// The subtrees in which every path is granted `access` by rules that decide the whole
    /// subtree alone (as for [`Policy::kernel_floor`]: literal rules with no narrower rule
    /// beneath them and no pattern anchored at or beneath them) and whose audit setting is not
    /// `log`. Inside one of these, a request for `access` needs no decision: the shim may
    /// answer it in-process (see the broker's fast path). Sorted, without duplicates.
    pub fn uniform_grants(&self, access: Access) -> Vec<PathBuf> {
        self.uniform_grants_audited(access, |a| a != AuditSetting::All)
    }

    /// [`Policy::uniform_grants`] among rules whose audit setting `keep` accepts (a log of
    /// every call offers only subtrees whose allows it records: `audit = "default"`).
    pub fn uniform_grants_audited(
        &self,
        access: Access,
        keep: impl Fn(AuditSetting) -> bool,
    ) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self
            .fs
            .uniform_literals()
            .filter(|(rules, _)| {
                rules.iter().all(|&r| {
                    let rule = &self.rules[r as usize];
                    rule.access.contains(access) && keep(rule.audit)
                })
            })
            .map(|(_, root)| self.roots[root as usize].clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// A stable hash of the merged policy (its rules after expansion, in order, and its
    /// defaults), as `fnv1a64:` and 16 hex digits. Equal for equal policies across runs and
    /// builds; where a rule was written does not count.
    pub fn digest(&self) -> String {
        self.digest.clone()
    }

    /// The rights paths get when no rule matches (`[defaults] fs`).
    pub fn default_access(&self) -> Access {
        self.defaults.fs
    }

    /// True if the family allows what no rule decides.
    pub fn default_allows(&self, family: Family) -> bool {
        self.defaults.allows(family)
    }
}

pub(crate) fn digest(rules: &[Rule], defaults: &Defaults) -> String {
    let mut h = Fnv64::default();
    h.write(b"arbiter-policy-v1\n");
    for r in rules {
        h.write(r.canonical().as_bytes());
        h.write(b"\n");
    }
    h.write(defaults.canonical().as_bytes());
    format!("fnv1a64:{:016x}", h.finish())
}
