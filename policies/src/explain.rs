//! Decisions rendered for people (`arbiter explain`, audit messages).

use crate::decide::{DecidedBy, Decision, PathDecision};
use crate::policy::Policy;
use crate::rule::AuditSetting;

impl Policy {
    /// One line saying what was decided and why, naming the rule and where it was written:
    ///
    /// ```text
    /// deny (ENOENT) by policy.toml:12:1: fs /home/u/.ssh (written "~/.ssh"): deny errno=ENOENT
    /// allow (implicit stat on an ancestor) by builtin:default:30:1: fs /home/u/proj …
    /// deny (EACCES): no connect rule matches, and the default for connect is deny
    /// ```
    pub fn explain(&self, d: &Decision) -> String {
        let verdict = if d.allow {
            "allow".to_owned()
        } else {
            format!("deny ({})", crate::errno::name(d.errno))
        };
        let mut s = match (d.by, d.rule) {
            (DecidedBy::Default(family), _) => format!(
                "{verdict}: no {family} rule matches, and the default for {family} is {}",
                if d.allow { "allow" } else { "deny" }
            ),
            (DecidedBy::ImplicitStat, Some(id)) => {
                let r = self.rule(id);
                format!(
                    "{verdict} (implicit stat on an ancestor of a rule's root) by {}: {}",
                    r.origin, r.text
                )
            }
            (DecidedBy::ImplicitMkdir, Some(id)) => {
                let r = self.rule(id);
                format!(
                    "{verdict} (implicit mkdir on the way to a rule's path) by {}: {}",
                    r.origin, r.text
                )
            }
            (_, Some(id)) => {
                let r = self.rule(id);
                format!("{verdict} by {}: {}", r.origin, r.text)
            }
            (_, None) => verdict,
        };
        match d.audit {
            AuditSetting::Default => {}
            other => s.push_str(&format!(" [audit: {}]", other.name())),
        }
        s
    }

    /// [`Policy::explain`], then the root and whether the subtree beneath it is uniform.
    pub fn explain_path(&self, d: &PathDecision) -> String {
        let mut s = self.explain(&d.decision);
        if let Some(root) = d.root.and_then(|r| self.roots.get(r)) {
            s.push_str(&format!("\nroot: {}", root.display()));
            s.push_str(if d.uniform {
                " (uniform: this rule decides everything beneath it)"
            } else {
                " (not uniform: other rules may decide beneath it)"
            });
        }
        s
    }
}
