//! Loading in steps: compile a policy from some sources, then merge more over them without
//! reading and parsing the first ones again.

use crate::error::PolicyError;
use crate::load::Loader;
use crate::policy::Policy;
use crate::source::{Source, Vars};

/// Sources merged so far, in order, to which more can be added.
///
/// `Loading` gives exactly what [`Policy::load`] gives for the same list of sources: each
/// [`Loading::policy`] is the policy of every source added before it. `arbiter run` uses it
/// to ask the policy about the program's installation prefixes, then add the command-line
/// rules, parsing the built-in profiles once.
pub struct Loading<'v> {
    loader: Loader<'v>,
}

impl<'v> Loading<'v> {
    /// No source yet, with variables expanded from `vars`.
    pub fn new(vars: &'v Vars) -> Loading<'v> {
        Loading {
            loader: Loader::new(vars),
        }
    }

    /// Merges `source` over the sources added before it (see the crate docs on merging).
    /// Problems are reported by [`Loading::policy`].
    pub fn add(&mut self, source: &Source) {
        self.loader.add(source);
    }

    /// Compiles the sources added so far: what [`Policy::load`] returns for them.
    pub fn policy(&self) -> Result<Policy, PolicyError> {
        Policy::from_loaded(self.loader.loaded())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn vars() -> Vars {
        Vars {
            home: Some(PathBuf::from("/home/u")),
            pwd: PathBuf::from("/work"),
            tmpdir: PathBuf::from("/tmp/t"),
            xdg_config_home: None,
            xdg_cache_home: None,
            xdg_data_home: None,
            xdg_runtime_dir: None,
        }
    }

    fn text(t: &str) -> Source {
        Source::Text {
            origin: "test".into(),
            text: t.into(),
        }
    }

    #[test]
    fn step_by_step_is_the_same_as_all_at_once() {
        let vars = vars();
        let sources = [
            Source::Builtin("default".into()),
            text("version = 1\n[[fs]]\npath = \"/usr\"\ndeny = true\n"),
            text("version = 1\n[[fs]]\npath = \"/opt/x\"\nallow = \"rx\"\n"),
        ];
        let mut loading = Loading::new(&vars);
        for n in 1..=sources.len() {
            loading.add(&sources[n - 1]);
            let stepped = loading.policy().expect("valid");
            let whole = Policy::load(&sources[..n], &vars).expect("valid");
            assert_eq!(stepped.digest(), whole.digest());
            assert_eq!(stepped.rules(), whole.rules());
        }
    }

    #[test]
    fn empty_additions_change_nothing() {
        // `arbiter run` skips merging them.
        let vars = vars();
        let mut loading = Loading::new(&vars);
        loading.add(&Source::Builtin("default".into()));
        let before = loading.policy().expect("valid");
        loading.add(&crate::Additions::default().to_source().expect("valid"));
        let after = loading.policy().expect("valid");
        assert_eq!(before.digest(), after.digest());
        assert_eq!(before.rules(), after.rules());
    }

    #[test]
    fn errors_are_reported_every_time() {
        let vars = vars();
        let mut loading = Loading::new(&vars);
        loading.add(&Source::File(PathBuf::from("/nonexistent/arbiter.toml")));
        for _ in 0..2 {
            let e = loading.policy().expect_err("unreadable");
            let whole = Policy::load(
                &[Source::File(PathBuf::from("/nonexistent/arbiter.toml"))],
                &vars,
            )
            .expect_err("unreadable");
            assert_eq!(format!("{e:#}"), format!("{whole:#}"));
            assert!(matches!(e, PolicyError::Read { .. }));
        }
        loading.add(&text("version = 1\n[[fs]]\npath = 3\n"));
        assert!(loading.policy().is_err());
    }
}
