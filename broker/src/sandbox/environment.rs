//! The sandboxed command's environment: what it inherits from arbiter's, and what the user
//! changed with `--clearenv`, `--unsetenv`, `--keep-env` and `--setenv`.
//!
//! By default the command inherits arbiter's environment **except variables whose names look
//! like credentials** ([`looks_secret`]: cloud keys, tokens, passwords, agent sockets), which
//! are withheld and named on stderr once, so a program that needs one can be given it with
//! `--keep-env NAME`. With `--clearenv` nothing is inherited but what `--keep-env` names.
//! `--unsetenv` removes a variable, `--setenv` sets one (it wins over everything else). The
//! variables arbiter itself sets for the shim (`LD_PRELOAD`, the bootstrap fd, `TMPDIR`) are
//! applied last by the caller.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct EnvChoice {
    /// Inherit nothing but `keep`.
    pub clear: bool,
    /// Variables inherited even when cleared or withheld.
    pub keep: Vec<OsString>,
    /// Variables removed.
    pub unset: Vec<OsString>,
    /// Variables set, in order (a later one wins).
    pub set: Vec<(OsString, OsString)>,
}

/// The environment to start the command with, and the names withheld because they look like
/// credentials (sorted).
pub struct Built {
    /// Name → value, sorted by name.
    pub vars: BTreeMap<OsString, OsString>,
    /// Inherited variables withheld by the credential rule.
    pub withheld: Vec<String>,
}

/// Name fragments (upper-cased) that mark a variable as a credential.
const SECRET_PARTS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "CREDENTIAL",
    "API_KEY",
    "APIKEY",
    "ACCESS_KEY",
    "PRIVATE_KEY",
    "SESSION_KEY",
    "AUTH_SOCK",
    "COOKIE",
];

/// Whether a variable's name looks like it holds a credential.
pub fn looks_secret(name: &OsStr) -> bool {
    let upper = name.to_string_lossy().to_ascii_uppercase();
    SECRET_PARTS.iter().any(|p| upper.contains(p))
}

/// Builds the command's environment from `inherited` (arbiter's own) and the user's choice.
pub fn build(
    inherited: impl IntoIterator<Item = (OsString, OsString)>,
    choice: &EnvChoice,
) -> Built {
    let mut vars = BTreeMap::new();
    let mut withheld = Vec::new();
    for (name, value) in inherited {
        let kept = choice.keep.contains(&name);
        if choice.clear && !kept {
            continue;
        }
        if !kept && looks_secret(&name) {
            withheld.push(name.to_string_lossy().into_owned());
            continue;
        }
        vars.insert(name, value);
    }
    for name in &choice.unset {
        vars.remove(name);
    }
    for (name, value) in &choice.set {
        vars.insert(name.clone(), value.clone());
    }
    withheld.sort();
    Built { vars, withheld }
}

/// Checks a variable name given on the command line: non-empty, no `=`, no NUL.
pub fn valid_name(name: &OsStr) -> Result<(), String> {
    let bytes = name.as_encoded_bytes();
    if bytes.is_empty() || bytes.contains(&b'=') || bytes.contains(&0) {
        return Err(format!(
            "invalid environment variable name {:?} (empty, or contains `=` or NUL)",
            name.to_string_lossy()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs.iter().map(|(k, v)| (k.into(), v.into())).collect()
    }

    #[test]
    fn credentials_are_withheld_unless_kept() {
        let inherited = os(&[
            ("PATH", "/bin"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
            ("GITHUB_TOKEN", "y"),
            ("SSH_AUTH_SOCK", "/s"),
            ("HOME", "/h"),
        ]);
        let b = build(inherited.clone(), &EnvChoice::default());
        assert_eq!(
            b.withheld,
            ["AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "SSH_AUTH_SOCK"]
        );
        assert_eq!(b.vars.len(), 2);
        let keep = EnvChoice {
            keep: vec!["GITHUB_TOKEN".into()],
            ..Default::default()
        };
        let b = build(inherited, &keep);
        assert_eq!(b.vars.get(OsStr::new("GITHUB_TOKEN")).unwrap(), "y");
    }

    #[test]
    fn clearenv_keeps_only_what_is_named_and_setenv_wins() {
        let inherited = os(&[("PATH", "/bin"), ("HOME", "/h"), ("LANG", "C")]);
        let choice = EnvChoice {
            clear: true,
            keep: vec!["PATH".into()],
            unset: vec!["PATH".into()],
            set: vec![("PATH".into(), "/usr/bin".into()), ("A".into(), "1".into())],
        };
        let b = build(inherited, &choice);
        let names: Vec<_> = b.vars.keys().cloned().collect();
        assert_eq!(names, ["A", "PATH"]);
        assert_eq!(b.vars.get(OsStr::new("PATH")).unwrap(), "/usr/bin");
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(valid_name(OsStr::new("")).is_err());
        assert!(valid_name(OsStr::new("A=B")).is_err());
        assert!(valid_name(OsStr::new("OK_NAME")).is_ok());
    }
}
