//! The built-in profiles, embedded in the binary. Each is an ordinary policy file under
//! `policies/profiles/`; `docs/policy.md` describes what each allows.

const PROFILES: &[(&str, &str, &str)] = &[
    (
        "runtime",
        "what any dynamically linked program needs: loader, libraries, /usr, locale, \
         ld.so config, nsswitch, passwd/group, time zone, /dev/null and friends, /proc/self",
        include_str!("../profiles/runtime.toml"),
    ),
    (
        "default",
        "runtime + read-only /usr and /etc (secrets denied), read-write $PWD and $TMPDIR; \
         home denied, its secrets explicitly",
        include_str!("../profiles/default.toml"),
    ),
    (
        "network-client",
        "name lookups and outgoing TCP/UDP to any port, TLS certificates; no listening",
        include_str!("../profiles/network-client.toml"),
    ),
    (
        "python",
        "default + Python installations (/usr/local, /opt, pyenv), user site-packages, pip cache",
        include_str!("../profiles/python.toml"),
    ),
    (
        "git",
        "default + git configuration and the ssh client's configuration for remotes",
        include_str!("../profiles/git.toml"),
    ),
    (
        "cargo",
        "default + rustup's ~/.cargo/bin and ~/.rustup (read, exec), cargo's registry and caches",
        include_str!("../profiles/cargo.toml"),
    ),
    (
        "go",
        "default + GOROOT (/usr/local/go, ~/sdk), GOPATH (~/go), the build cache (~/.cache/go-build)",
        include_str!("../profiles/go.toml"),
    ),
    (
        "node",
        "default + nvm/fnm installations (read, exec), npm's cache (~/.npm), node-gyp and corepack caches",
        include_str!("../profiles/node.toml"),
    ),
    (
        "java",
        "default + JDKs (/opt, ~/.sdkman, ~/.jdks), Maven's ~/.m2/repository and Gradle's ~/.gradle",
        include_str!("../profiles/java.toml"),
    ),
];

/// The built-in profiles: `(name, one-line description)`, in a sensible reading order.
pub fn list() -> &'static [(&'static str, &'static str)] {
    const LIST: &[(&str, &str)] = &{
        let mut out = [("", ""); PROFILES.len()];
        let mut i = 0;
        while i < PROFILES.len() {
            out[i] = (PROFILES[i].0, PROFILES[i].1);
            i += 1;
        }
        out
    };
    LIST
}

/// The TOML text of a built-in profile.
pub fn text(name: &str) -> Option<&'static str> {
    PROFILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, t)| *t)
}

/// The trees `build.rs` made of the built-in profiles' texts.
mod built {
    use crate::tree;
    include!(concat!(env!("OUT_DIR"), "/profile_trees.rs"));
}

/// The TOML tree of a built-in profile's text, made at build time ([`crate::tree`]): what
/// [`crate::tree::from_toml`] gives for [`text`]`(name)`, without parsing it.
pub(crate) fn tree(name: &str) -> Option<crate::tree::Table> {
    built::tree(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::{self, Doc};
    use crate::Vars;
    use std::path::PathBuf;

    /// Every built-in profile's build-time tree is its runtime parse, and the walker reads
    /// both alike: the same rules (with their origins), defaults, `extends` and no problem.
    /// Fails when build.rs made something else of a profile, or none.
    #[test]
    fn built_profile_trees_are_the_runtime_parse() {
        let vars = Vars {
            home: Some(PathBuf::from("/home/u")),
            pwd: PathBuf::from("/work/p"),
            tmpdir: PathBuf::from("/tmp/arbiter-t"),
            xdg_config_home: None,
            xdg_cache_home: None,
            xdg_data_home: Some(PathBuf::from("/home/u/.data")),
            xdg_runtime_dir: Some(PathBuf::from("/run/user/1000")),
        };
        for (name, _) in list() {
            let text = text(name).unwrap();
            let built = tree(name).unwrap_or_else(|| panic!("no built tree for {name}"));
            let parsed = toml_edit::ImDocument::parse(text).unwrap();
            assert!(
                built == crate::tree::from_toml(&parsed),
                "{name}: the built tree is not the runtime parse"
            );
            let origin = format!("builtin:{name}");
            let doc = Doc::new(&origin, text, true);
            let (mut from_built, mut from_text) = (Vec::new(), Vec::new());
            let a = syntax::parse(&doc, Some(built), &vars, &mut from_built);
            let b = syntax::parse(&doc, None, &vars, &mut from_text);
            assert!(
                from_built.is_empty() && from_text.is_empty(),
                "{name}: {from_text:?}"
            );
            assert!(
                !a.rules.is_empty() || !a.extends.is_empty(),
                "{name}: empty"
            );
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "{name}");
        }
        assert!(tree("no-such-profile").is_none());
    }
}
