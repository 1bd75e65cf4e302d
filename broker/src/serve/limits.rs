//! How much of the daemon one uid, and all clients together, may hold.
//!
//! Three resources are counted, each per uid and in total: *sandboxes* (a sandbox holds a
//! bootstrap thread, a seccomp listener with its workers, a TMPDIR), *channels* (one
//! thread and one fd per thread of every sandboxed process), and *pending* connections
//! (accepted, waiting for their hello; a thread each). A request over a limit is refused
//! with a reason naming the limit and its setting, and an audit record; what was granted
//! is given back when its [`Held`] token is dropped (the sandbox, channel or handshake
//! ended, however it ended).
//!
//! [`LIMITS`] is the one table of the settings: the config file's `[limits]` keys and the
//! `--max-*` flags are both read through it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Live sandboxes.
    Sandbox,
    /// Open call channels.
    Channel,
    /// Connections waiting for their hello.
    Pending,
}

/// One setting: its config key (also the flag, as `--max-KEY` with `_` as `-`), the
/// resource, whether it is per uid, its default, and what it bounds.
pub struct Setting {
    /// The key in `[limits]`.
    pub key: &'static str,
    /// What it counts.
    pub resource: Resource,
    /// Per uid (else for all clients together).
    pub per_uid: bool,
    /// The default: what a small machine (2 CPUs, 1 GiB, `ulimit -n` raised to 4096)
    /// holds with room to spare.
    pub default: usize,
}

/// The settings, in the order `--check-config` and the docs list them.
pub const LIMITS: &[Setting] = &[
    Setting {
        key: "sandboxes",
        resource: Resource::Sandbox,
        per_uid: false,
        default: 64,
    },
    Setting {
        key: "sandboxes_per_uid",
        resource: Resource::Sandbox,
        per_uid: true,
        default: 16,
    },
    Setting {
        key: "channels",
        resource: Resource::Channel,
        per_uid: false,
        default: 1024,
    },
    Setting {
        key: "channels_per_uid",
        resource: Resource::Channel,
        per_uid: true,
        default: 256,
    },
    Setting {
        key: "pending",
        resource: Resource::Pending,
        per_uid: false,
        default: 64,
    },
    Setting {
        key: "pending_per_uid",
        resource: Resource::Pending,
        per_uid: true,
        default: 16,
    },
];

/// The limit values, indexed like [`LIMITS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    values: [usize; LIMITS.len()],
}

impl Default for Limits {
    fn default() -> Limits {
        let mut values = [0; LIMITS.len()];
        for (v, s) in values.iter_mut().zip(LIMITS) {
            *v = s.default;
        }
        Limits { values }
    }
}

impl Limits {
    /// Sets `key` (a [`LIMITS`] key); false when there is no such key.
    pub fn set(&mut self, key: &str, value: usize) -> bool {
        match LIMITS.iter().position(|s| s.key == key) {
            Some(i) => {
                self.values[i] = value;
                true
            }
            None => false,
        }
    }

    /// The value of `key`.
    #[cfg(test)]
    pub fn get(&self, key: &str) -> Option<usize> {
        LIMITS
            .iter()
            .position(|s| s.key == key)
            .map(|i| self.values[i])
    }

    fn of(&self, resource: Resource, per_uid: bool) -> (&'static str, usize) {
        let i = LIMITS
            .iter()
            .position(|s| s.resource == resource && s.per_uid == per_uid)
            .expect("every resource has both settings");
        (LIMITS[i].key, self.values[i])
    }

    /// The settings as `key = value` pairs, for the audit log.
    pub fn to_json(&self) -> serde_json::Value {
        LIMITS
            .iter()
            .zip(self.values)
            .map(|(s, v)| (s.key.to_owned(), serde_json::json!(v)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    sandbox: usize,
    channel: usize,
    pending: usize,
}

impl Counts {
    fn get(&mut self, r: Resource) -> &mut usize {
        match r {
            Resource::Sandbox => &mut self.sandbox,
            Resource::Channel => &mut self.channel,
            Resource::Pending => &mut self.pending,
        }
    }
}

/// What every uid holds now.
#[derive(Debug, Default)]
pub struct Counters {
    state: Mutex<(Counts, HashMap<u32, Counts>)>,
}

/// One unit of a resource, given back when dropped.
#[derive(Debug)]
pub struct Held {
    counters: Arc<Counters>,
    uid: u32,
    resource: Resource,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut st = self
            .counters
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let (total, per_uid) = &mut *st;
        *total.get(self.resource) -= 1;
        if let Some(c) = per_uid.get_mut(&self.uid) {
            *c.get(self.resource) -= 1;
            if c.sandbox == 0 && c.channel == 0 && c.pending == 0 {
                per_uid.remove(&self.uid);
            }
        }
    }
}

/// A refusal: the setting that was reached and the reason for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The [`LIMITS`] key.
    pub key: &'static str,
    /// Its value.
    pub limit: usize,
    /// The reason, for the client and the audit log.
    pub reason: String,
}

impl Counters {
    /// Takes one `resource` for `uid` if neither its per-uid nor the total limit is reached.
    pub fn take(
        self: &Arc<Self>,
        limits: &Limits,
        uid: u32,
        resource: Resource,
    ) -> Result<Held, Refused> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (total, per_uid) = &mut *st;
        let mine = per_uid.get(&uid).copied().unwrap_or_default();
        let what = match resource {
            Resource::Sandbox => "sandboxes",
            Resource::Channel => "call channels",
            Resource::Pending => "connections waiting for their hello",
        };
        let (key, limit) = limits.of(resource, true);
        if *mine.clone().get(resource) >= limit {
            return Err(Refused {
                key,
                limit,
                reason: format!(
                    "limit reached: uid {uid} already has {limit} {what} (limits.{key} = {limit})"
                ),
            });
        }
        let (key, limit) = limits.of(resource, false);
        if *total.get(resource) >= limit {
            return Err(Refused {
                key,
                limit,
                reason: format!(
                    "limit reached: the daemon already serves {limit} {what} (limits.{key} = {limit})"
                ),
            });
        }
        *total.get(resource) += 1;
        *per_uid.entry(uid).or_default().get(resource) += 1;
        Ok(Held {
            counters: Arc::clone(self),
            uid,
            resource,
        })
    }

    /// What `uid` holds of `resource` now.
    #[cfg(test)]
    pub fn held(&self, uid: u32, resource: Resource) -> usize {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.1.get_mut(&uid).map(|c| *c.get(resource)).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_uid_and_total_limits_refuse_and_give_back() {
        let mut l = Limits::default();
        assert!(l.set("sandboxes_per_uid", 2));
        assert!(l.set("sandboxes", 3));
        assert!(!l.set("nonesuch", 1));
        let c = Arc::new(Counters::default());
        let a1 = c.take(&l, 1, Resource::Sandbox).unwrap();
        let _a2 = c.take(&l, 1, Resource::Sandbox).unwrap();
        let e = c.take(&l, 1, Resource::Sandbox).unwrap_err();
        assert_eq!(e.key, "sandboxes_per_uid");
        assert!(
            e.reason.contains("uid 1 already has 2 sandboxes"),
            "{}",
            e.reason
        );
        let _b1 = c.take(&l, 2, Resource::Sandbox).unwrap();
        let e = c.take(&l, 2, Resource::Sandbox).unwrap_err();
        assert_eq!(e.key, "sandboxes");
        // Other resources are counted apart.
        let _ch = c.take(&l, 1, Resource::Channel).unwrap();
        drop(a1);
        assert_eq!(c.held(1, Resource::Sandbox), 1);
        let _a3 = c.take(&l, 1, Resource::Sandbox).unwrap();
    }

    #[test]
    fn every_resource_has_a_per_uid_and_a_total_setting() {
        for r in [Resource::Sandbox, Resource::Channel, Resource::Pending] {
            for per_uid in [false, true] {
                assert_eq!(
                    LIMITS
                        .iter()
                        .filter(|s| s.resource == r && s.per_uid == per_uid)
                        .count(),
                    1
                );
            }
        }
        assert_eq!(Limits::default().values.len(), LIMITS.len());
    }
}
