//! The index of path rules: a trie of literal path components, with each wildcard pattern
//! hung on the node of its literal prefix.
//!
//! A decision walks the trie along the path once, so its cost grows with the path's depth
//! and the number of patterns anchored on that walk, never with the number of rules. The
//! counts that make `uniform` and implicit `stat` cheap are computed once, at build.

use crate::digest::FnvMap;
use crate::glob::Glob;

/// Index of a node; node 0 is `/`.
type NodeId = u32;

/// How a rule matched: on the path itself, through a pattern, or as an ancestor directory.
/// At equal depth the order is `Exact` > `Glob` > `Prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Prefix,
    Glob,
    Exact,
}

#[derive(Debug, Clone, Default)]
struct Node {
    children: FnvMap<Box<[u8]>, NodeId>,
    parent: NodeId,
    /// Rules on exactly this path, ascending.
    literals: Vec<u32>,
    /// Patterns whose literal prefix is this path (indexes into `PathIndex::globs`).
    globs: Vec<u32>,
    /// Literal rules strictly beneath, plus patterns anchored here or beneath.
    beneath: u32,
    /// Some rule that allows something and lives strictly beneath (a pattern anchored here
    /// counts: it only matches strictly beneath).
    allow_beneath: Option<u32>,
    /// Index into the policy's roots, when this node has rules.
    root: Option<u32>,
}

/// The result of a walk: the deciding rule and where it sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub rule: u32,
    pub allow: bool,
    pub kind: Kind,
    pub root: u32,
    pub uniform: bool,
}

/// Literal and wildcard path rules of one family.
#[derive(Debug, Clone)]
pub(crate) struct PathIndex {
    nodes: Vec<Node>,
    globs: Vec<(Glob, u32, bool)>,
}

impl Default for PathIndex {
    fn default() -> PathIndex {
        PathIndex {
            nodes: vec![Node::default()],
            globs: Vec::new(),
        }
    }
}

/// Components of a clean absolute path, with the byte offset after each.
fn components(path: &[u8]) -> impl Iterator<Item = (&[u8], usize)> {
    let mut pos = 1;
    std::iter::from_fn(move || {
        if pos >= path.len() {
            return None;
        }
        let rest = &path[pos..];
        let end = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
        let comp = &rest[..end];
        pos += end + 1;
        Some((comp, (pos - 1).min(path.len())))
    })
}

/// The part of `path` after the byte offset `at`, without the leading `/`.
fn rest(path: &[u8], at: usize) -> &[u8] {
    path.get(at + 1..).unwrap_or(&[])
}

impl PathIndex {
    fn node_for(&mut self, path: &[u8], root: u32) -> NodeId {
        let mut id = 0;
        for (comp, _) in components(path) {
            id = match self.nodes[id as usize].children.get(comp) {
                Some(&c) => c,
                None => {
                    let c = NodeId::try_from(self.nodes.len()).expect("fewer than 2^32 nodes");
                    self.nodes.push(Node {
                        parent: id,
                        ..Node::default()
                    });
                    self.nodes[id as usize].children.insert(comp.into(), c);
                    c
                }
            };
        }
        self.nodes[id as usize].root.get_or_insert(root);
        id
    }

    /// Adds a rule on a literal path. `root` is the index of `path` among the policy's roots.
    pub fn insert_literal(&mut self, path: &[u8], rule: u32, root: u32) {
        let n = self.node_for(path, root);
        self.nodes[n as usize].literals.push(rule);
    }

    /// Adds a rule with a pattern; `root` is the index of its prefix among the roots.
    pub fn insert_glob(&mut self, glob: Glob, rule: u32, allow: bool, root: u32) {
        let n = self.node_for(&glob.prefix, root);
        let g = u32::try_from(self.globs.len()).expect("fewer than 2^32 patterns");
        self.globs.push((glob, rule, allow));
        self.nodes[n as usize].globs.push(g);
    }

    /// Computes the subtree counts. `allows(rule)` tells whether a rule allows anything.
    pub fn finish(&mut self, allows: impl Fn(u32) -> bool) {
        for node in &mut self.nodes {
            node.literals.sort_unstable();
            node.beneath = u32::try_from(node.globs.len()).unwrap_or(u32::MAX);
            node.allow_beneath = None;
        }
        for i in 0..self.nodes.len() {
            let globs = &self.globs;
            let node = &mut self.nodes[i];
            node.allow_beneath = node
                .globs
                .iter()
                .map(|&g| &globs[g as usize])
                .find(|(_, _, allow)| *allow)
                .map(|(_, rule, _)| *rule);
        }
        // Children are created after their parents, so reverse order visits children first.
        for i in (1..self.nodes.len()).rev() {
            let node = &self.nodes[i];
            let count = u32::try_from(node.literals.len())
                .unwrap_or(u32::MAX)
                .saturating_add(node.beneath);
            let allow = node
                .literals
                .iter()
                .copied()
                .find(|&r| allows(r))
                .or(node.allow_beneath);
            let parent = node.parent as usize;
            let parent = &mut self.nodes[parent];
            parent.beneath = parent.beneath.saturating_add(count);
            if parent.allow_beneath.is_none() {
                parent.allow_beneath = allow;
            }
        }
    }

    /// Decides `path` (clean, absolute): the most specific rules win, and among equally
    /// specific ones the request is allowed only if all of them allow it. `allows(rule)`
    /// says whether a rule allows the request. `None` when no rule matches.
    pub fn decide(&self, path: &[u8], allows: impl Fn(u32) -> bool) -> Option<Hit> {
        let mut best: Option<(NodeId, Kind, usize)> = None;
        let mut id: NodeId = 0;
        let mut at = 0; // offset of the `/` after the current node's path
        let mut comps = components(path);
        loop {
            let node = &self.nodes[id as usize];
            let tail = rest(path, at);
            if tail.is_empty() && !node.literals.is_empty() {
                best = Some((id, Kind::Exact, at));
            } else if !tail.is_empty()
                && node
                    .globs
                    .iter()
                    .any(|&g| self.globs[g as usize].0.covers(tail))
            {
                best = Some((id, Kind::Glob, at));
            } else if !node.literals.is_empty() {
                best = Some((id, Kind::Prefix, at));
            }
            let Some((comp, end)) = comps.next() else {
                break;
            };
            match node.children.get(comp) {
                Some(&c) => {
                    id = c;
                    at = end;
                }
                None => break,
            }
        }
        let (id, kind, at) = best?;
        let node = &self.nodes[id as usize];
        let mut chosen: Option<u32> = None;
        let mut denied: Option<u32> = None;
        let mut offer = |rule: u32| {
            chosen = Some(chosen.map_or(rule, |c| c.min(rule)));
            if !allows(rule) {
                denied = Some(denied.map_or(rule, |d| d.min(rule)));
            }
        };
        let uniform = match kind {
            Kind::Exact | Kind::Prefix => {
                node.literals.iter().for_each(|&r| offer(r));
                node.beneath == 0
            }
            Kind::Glob => {
                let tail = rest(path, at);
                let mut only = None;
                for &g in &node.globs {
                    let (glob, rule, _) = &self.globs[g as usize];
                    if glob.covers(tail) {
                        offer(*rule);
                        only = Some(glob);
                    }
                }
                node.beneath == 1 && only.is_some_and(Glob::covers_all_beneath)
            }
        };
        let rule = denied.or(chosen)?;
        Some(Hit {
            rule,
            allow: denied.is_none(),
            kind,
            root: node.root.unwrap_or(0),
            uniform: uniform && !self.stat_from_above(path, at),
        })
    }

    /// True if an allow pattern anchored strictly above the node ending at byte `end` of
    /// `path` could match beneath it: its implicit `stat` would then reach into the subtree,
    /// which is therefore not uniform.
    fn stat_from_above(&self, path: &[u8], end: usize) -> bool {
        let mut id: NodeId = 0;
        let mut at = 0;
        let mut comps = components(&path[..end]);
        loop {
            if at == end {
                return false;
            }
            let node = &self.nodes[id as usize];
            let tail = path.get(at + 1..end).unwrap_or(&[]);
            for &g in &node.globs {
                let (glob, _, allow) = &self.globs[g as usize];
                if *allow && glob.could_match_two_beneath(tail) {
                    return true;
                }
            }
            let Some((comp, next)) = comps.next() else {
                return false;
            };
            match node.children.get(comp) {
                Some(&c) => {
                    id = c;
                    at = next;
                }
                None => return false,
            }
        }
    }

    /// Some rule that allows something and could match a path strictly beneath `path`: the
    /// source of the implicit `stat` on ancestors.
    pub fn allow_beneath(&self, path: &[u8]) -> Option<u32> {
        let mut id: NodeId = 0;
        let mut at = 0;
        let mut comps = components(path);
        loop {
            let node = &self.nodes[id as usize];
            let tail = rest(path, at);
            if tail.is_empty() {
                return node.allow_beneath;
            }
            for &g in &node.globs {
                let (glob, rule, allow) = &self.globs[g as usize];
                if *allow && glob.could_match_beneath(tail) {
                    return Some(*rule);
                }
            }
            let (comp, end) = comps.next()?;
            id = *node.children.get(comp)?;
            at = end;
        }
    }

    /// Some literal rule strictly beneath `path` (clean, absolute) for which `pred` holds:
    /// the source of the implicit `mkdir` of the directories on the way to a rule's path.
    /// Patterns are not looked at.
    pub fn literal_beneath(&self, path: &[u8], pred: impl Fn(u32) -> bool) -> Option<u32> {
        let mut id: NodeId = 0;
        for (comp, _) in components(path) {
            id = *self.nodes[id as usize].children.get(comp)?;
        }
        let mut stack: Vec<NodeId> = self.nodes[id as usize].children.values().copied().collect();
        while let Some(n) = stack.pop() {
            let node = &self.nodes[n as usize];
            if let Some(&r) = node.literals.iter().find(|&&r| pred(r)) {
                return Some(r);
            }
            stack.extend(node.children.values().copied());
        }
        None
    }

    /// True if no rule can decide anywhere strictly beneath `path` (clean, absolute): no
    /// literal rule beneath it, no pattern anchored at or beneath it, and no pattern anchored
    /// above it that could match beneath it. Every path beneath is then decided exactly as
    /// `path` itself is.
    pub fn nothing_beneath(&self, path: &[u8]) -> bool {
        let mut id: NodeId = 0;
        let mut at = 0;
        let mut comps = components(path);
        loop {
            let node = &self.nodes[id as usize];
            let tail = rest(path, at);
            if tail.is_empty() {
                return node.beneath == 0;
            }
            if node
                .globs
                .iter()
                .any(|&g| self.globs[g as usize].0.could_match_beneath(tail))
            {
                return false;
            }
            let Some((comp, end)) = comps.next() else {
                return true;
            };
            match node.children.get(comp) {
                Some(&c) => {
                    id = c;
                    at = end;
                }
                None => return true,
            }
        }
    }

    /// The literal rules whose subtree no other rule can decide in: `(rule, root)` pairs, for
    /// the kernel floor.
    pub fn uniform_literals(&self) -> impl Iterator<Item = (&[u32], u32)> + '_ {
        self.nodes
            .iter()
            .filter(|n| !n.literals.is_empty() && n.beneath == 0)
            .map(|n| (n.literals.as_slice(), n.root.unwrap_or(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::glob::PathPattern;

    fn index(rules: &[(&str, bool)]) -> PathIndex {
        let mut ix = PathIndex::default();
        for (i, (p, allow)) in rules.iter().enumerate() {
            match PathPattern::parse(p.as_bytes()).unwrap() {
                PathPattern::Literal(l) => ix.insert_literal(&l, i as u32, i as u32),
                PathPattern::Glob(g) => ix.insert_glob(g, i as u32, *allow, i as u32),
            }
        }
        let allows: Vec<bool> = rules.iter().map(|r| r.1).collect();
        ix.finish(|r| allows[r as usize]);
        ix
    }

    fn decide(ix: &PathIndex, allows: &[bool], p: &str) -> Option<(u32, bool, Kind, bool)> {
        ix.decide(p.as_bytes(), |r| allows[r as usize])
            .map(|h| (h.rule, h.allow, h.kind, h.uniform))
    }

    #[test]
    fn walks_to_the_most_specific() {
        let rules = [("/a", true), ("/a/b", false), ("/a/*.txt", false)];
        let ix = index(&rules);
        let al = [true, false, false];
        assert_eq!(decide(&ix, &al, "/a"), Some((0, true, Kind::Exact, false)));
        assert_eq!(
            decide(&ix, &al, "/a/c"),
            Some((0, true, Kind::Prefix, false))
        );
        assert_eq!(
            decide(&ix, &al, "/a/c.txt"),
            Some((2, false, Kind::Glob, false))
        );
        assert_eq!(
            decide(&ix, &al, "/a/b/c.txt"),
            Some((1, false, Kind::Prefix, true))
        );
        assert_eq!(decide(&ix, &al, "/ab"), None);
        assert_eq!(decide(&ix, &al, "/"), None);
        assert_eq!(ix.allow_beneath(b"/"), Some(0));
        assert_eq!(ix.allow_beneath(b"/a"), None);
    }

    #[test]
    fn nothing_beneath_sees_literals_and_patterns_at_every_depth() {
        let ix = index(&[("/a", true), ("/a/b/c", false), ("/x/*/*.key", false)]);
        assert!(!ix.nothing_beneath(b"/a"));
        assert!(!ix.nothing_beneath(b"/a/b"));
        assert!(ix.nothing_beneath(b"/a/b/c"));
        assert!(ix.nothing_beneath(b"/a/d"));
        assert!(ix.nothing_beneath(b"/a/d/e"));
        // A pattern anchored above reaches beneath /x/y, not beneath /x/y/z.
        assert!(!ix.nothing_beneath(b"/x"));
        assert!(!ix.nothing_beneath(b"/x/y"));
        assert!(ix.nothing_beneath(b"/x/y/z"));
        assert!(!ix.nothing_beneath(b"/"));
    }
}
