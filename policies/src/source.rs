//! Where policy text comes from, and the variables expanded in it.

use std::path::PathBuf;

/// Where policy text comes from. [`Policy::load`](crate::Policy::load) merges a list of these,
/// later over earlier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A built-in profile by name (see [`profiles::list`](crate::profiles::list)); its origin
    /// in messages is `builtin:NAME`.
    Builtin(String),
    /// A policy file; its origin in messages is the path as given. Relative `extends` entries
    /// in it are relative to its directory.
    File(PathBuf),
    /// Text generated elsewhere (e.g. [`Additions`](crate::Additions)), with a name for
    /// messages. Relative `extends` entries in it are relative to `$PWD`.
    Text {
        /// Shown as the rules' origin.
        origin: String,
        /// Policy text (TOML).
        text: String,
    },
}

impl Source {
    /// The name used in diagnostics and rule origins.
    pub fn origin(&self) -> String {
        match self {
            Source::Builtin(name) => format!("builtin:{name}"),
            Source::File(path) => path.display().to_string(),
            Source::Text { origin, .. } => origin.clone(),
        }
    }
}

/// The variables a policy may use, expanded once at load.
///
/// | written | value |
/// |---|---|
/// | `~`, `~/…`, `$HOME` | `home` |
/// | `$PWD` | `pwd` |
/// | `$TMPDIR` | `tmpdir` |
/// | `$XDG_CONFIG_HOME` | `xdg_config_home`, else `$HOME/.config` |
/// | `$XDG_CACHE_HOME` | `xdg_cache_home`, else `$HOME/.cache` |
/// | `$XDG_DATA_HOME` | `xdg_data_home`, else `$HOME/.local/share` |
/// | `$XDG_RUNTIME_DIR` | `xdg_runtime_dir` (no fallback) |
///
/// `${NAME}` is the same as `$NAME`; `$$` is a literal `$`. Any other name is an error, and so
/// is a variable with no value. Values are taken literally (a `*` in `$PWD` is not a wildcard).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    /// `$HOME` / `~`.
    pub home: Option<PathBuf>,
    /// `$PWD`.
    pub pwd: PathBuf,
    /// `$TMPDIR`.
    pub tmpdir: PathBuf,
    /// `$XDG_CONFIG_HOME`.
    pub xdg_config_home: Option<PathBuf>,
    /// `$XDG_CACHE_HOME`.
    pub xdg_cache_home: Option<PathBuf>,
    /// `$XDG_DATA_HOME`.
    pub xdg_data_home: Option<PathBuf>,
    /// `$XDG_RUNTIME_DIR`.
    pub xdg_runtime_dir: Option<PathBuf>,
}

impl Vars {
    /// The names a policy may use after `$`.
    pub const NAMES: &'static [&'static str] = &[
        "HOME",
        "PWD",
        "TMPDIR",
        "XDG_CONFIG_HOME",
        "XDG_CACHE_HOME",
        "XDG_DATA_HOME",
        "XDG_RUNTIME_DIR",
    ];

    /// Reads the variables from this process's environment: `HOME`, the current directory
    /// (not `$PWD`, which may be stale), `TMPDIR` (else `/tmp`), and the `XDG_*` variables.
    /// Empty or relative values count as unset. This is an edge helper for the `arbiter`
    /// command; the library itself never reads the environment.
    pub fn from_env() -> Vars {
        fn var(name: &str) -> Option<PathBuf> {
            std::env::var_os(name)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        }
        Vars {
            home: var("HOME"),
            pwd: std::env::current_dir()
                .ok()
                .or_else(|| var("PWD"))
                .unwrap_or_else(|| PathBuf::from("/")),
            tmpdir: var("TMPDIR").unwrap_or_else(|| PathBuf::from("/tmp")),
            xdg_config_home: var("XDG_CONFIG_HOME"),
            xdg_cache_home: var("XDG_CACHE_HOME"),
            xdg_data_home: var("XDG_DATA_HOME"),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR"),
        }
    }

    /// The value of a variable by name, applying the XDG fallbacks. `Ok(None)` means the name
    /// is known but has no value here; `Err(())` means the name is unknown.
    #[allow(clippy::result_unit_err)] // the only failure is "no such variable"
    pub fn get(&self, name: &str) -> Result<Option<PathBuf>, ()> {
        let from_home = |rel: &str| self.home.as_ref().map(|h| h.join(rel));
        Ok(match name {
            "HOME" => self.home.clone(),
            "PWD" => Some(self.pwd.clone()),
            "TMPDIR" => Some(self.tmpdir.clone()),
            "XDG_CONFIG_HOME" => self
                .xdg_config_home
                .clone()
                .or_else(|| from_home(".config")),
            "XDG_CACHE_HOME" => self.xdg_cache_home.clone().or_else(|| from_home(".cache")),
            "XDG_DATA_HOME" => self
                .xdg_data_home
                .clone()
                .or_else(|| from_home(".local/share")),
            "XDG_RUNTIME_DIR" => self.xdg_runtime_dir.clone(),
            _ => return Err(()),
        })
    }
}
