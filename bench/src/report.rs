//! The bench's JSON report and its readable table of figures and ratios.
//!
//! ```json
//! {"machine": {"cpus": 2, "kernel": "6.1.0", "model": "…", "loadavg": "…"},
//!  "results": [{"name": "bare_rt", "p50_ns": 8000, "p99_ns": 15000, "ops_per_s": 120000.0, "n": 20000},
//!              {"name": "broker_rss_1", "bytes": 5242880, "n": 1}]}
//! ```
//! Latency entries carry `p50_ns`, `p99_ns`, `ops_per_s` and `n`; whole-program entries
//! also `cpu_p50_ns`; memory entries carry `bytes` and `n` (samples taken). Readers should ignore fields they do not know.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

/// Where the figures were measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    /// Online CPUs.
    pub cpus: usize,
    /// Kernel release.
    pub kernel: String,
    /// CPU model name.
    pub model: String,
    /// `/proc/loadavg` when the run started (the machine may be shared).
    pub loadavg: String,
}

impl Machine {
    /// This machine.
    pub fn here() -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        Machine {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
            model: read("/proc/cpuinfo")
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
                .unwrap_or_default(),
            loadavg: read("/proc/loadavg").trim().to_owned(),
        }
    }
}

/// One result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// `native_open`, `brokered_stat_t2`, `broker_rss_100`…
    pub name: String,
    /// Median latency (ns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_ns: Option<u64>,
    /// 99th-percentile latency (ns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_ns: Option<u64>,
    /// Throughput across all threads and processes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ops_per_s: Option<f64>,
    /// Samples behind the figures.
    pub n: u64,
    /// Memory in bytes (memory entries only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Median CPU time per run, user + system of the command and every process it waited
    /// for (whole-program entries only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_p50_ns: Option<u64>,
}

impl Entry {
    /// A memory entry.
    pub fn bytes(name: impl Into<String>, bytes: u64) -> Entry {
        Entry {
            name: name.into(),
            p50_ns: None,
            p99_ns: None,
            ops_per_s: None,
            n: 1,
            bytes: Some(bytes),
            cpu_p50_ns: None,
        }
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Where it was measured.
    pub machine: Machine,
    /// Every measurement, in the order taken.
    pub results: Vec<Entry>,
}

/// A ratio of two results and the issue's target for it.
pub struct Ratio {
    /// What is compared.
    pub label: String,
    /// The measured value.
    pub value: f64,
    /// The target, when the issue sets one, and whether it is `≤` (true) or `≥`.
    pub target: Option<(f64, bool)>,
    /// Unit shown after value and target.
    pub unit: &'static str,
}

impl Ratio {
    /// Whether the value meets its target (`None` without one).
    pub fn met(&self) -> Option<bool> {
        self.target
            .map(|(t, le)| if le { self.value <= t } else { self.value >= t })
    }
}

impl Report {
    /// The result named `name`.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.results.iter().find(|e| e.name == name)
    }

    fn p50(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(|e| e.p50_ns).map(|v| v as f64)
    }

    fn cpu_p50(&self, name: &str) -> Option<f64> {
        self.get(name)
            .and_then(|e| e.cpu_p50_ns)
            .filter(|&v| v > 0)
            .map(|v| v as f64)
    }

    fn ops(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(|e| e.ops_per_s)
    }

    /// The ratios the issue sets targets for, plus the scaling of every brokered call.
    pub fn ratios(&self) -> Vec<Ratio> {
        let mut out = Vec::new();
        let mut p50_ratio = |a: &str, b: &str, target: Option<f64>| {
            if let (Some(x), Some(y)) = (self.p50(a), self.p50(b)) {
                out.push(Ratio {
                    label: format!("{a} / {b} (p50)"),
                    value: x / y,
                    target: target.map(|t| (t, true)),
                    unit: "×",
                });
            }
        };
        // brokered_open and brokered_stat are answered in-process (native reads, the stat
        // fast path); their round trips are the _rt entries (`--no-fast-path`).
        p50_ratio("brokered_open_rt", "ideal_open_rt", Some(1.25));
        p50_ratio("brokered_stat_rt", "bare_rt", Some(1.25));
        p50_ratio("brokered_access", "bare_rt", Some(1.25));
        p50_ratio("brokered_stat", "bare_rt", None);
        p50_ratio("brokered_open", "ideal_open_rt", None);
        p50_ratio("brokered_stat", "native_stat", Some(3.0));
        p50_ratio("brokered_open", "native_open", Some(5.0));
        p50_ratio("brokered_open_floor", "native_open_floor", Some(5.0));
        p50_ratio("brokered_connect", "native_connect", None);
        p50_ratio("brokered_getaddrinfo", "native_getaddrinfo", None);
        p50_ratio("brokered_sendto", "native_sendto", None);
        p50_ratio("ideal_open_rt", "bare_rt", None);
        p50_ratio("master_stat_rt", "policy_stat_rt", None);
        p50_ratio("master_open_rt", "policy_open_rt", None);
        p50_ratio("seccomp_open", "brokered_open_rt", None);
        p50_ratio("seccomp_stat", "brokered_stat_rt", None);
        p50_ratio("seccomp_open", "native_open", None);
        p50_ratio("decider_stat", "brokered_stat_rt", None);
        p50_ratio("decider_open", "brokered_open_rt", None);
        p50_ratio("seccomp_stat", "native_stat", None);
        p50_ratio("run_git_status", "native_git_status", Some(2.0));
        p50_ratio("run_make", "native_make", Some(2.0));
        // Start-up (issue 18: no corpus case slower than 3× native), beside what the
        // reference sandboxes need to start the same command.
        p50_ratio("run_true", "native_true", Some(3.0));
        for reference in ["bwrap_min", "bwrap", "proot"] {
            for w in ["true", "git_status", "stat_open"] {
                p50_ratio(&format!("{reference}_{w}"), &format!("native_{w}"), None);
            }
        }
        // Tree walks through directory fds (issue 18: no case slower than 3× native).
        for walk in ["find_4000", "du_4000", "tar_4000", "rm_r_4000"] {
            p50_ratio(&format!("run_{walk}"), &format!("native_{walk}"), Some(3.0));
        }
        // Issue 20: the cost of an audit log.
        for w in ["git_status", "stat_open"] {
            let native = format!("native_{w}");
            let all_target = if w == "git_status" { 2.5 } else { 2.0 };
            if w != "git_status" {
                p50_ratio(&format!("run_{w}"), &native, None); // git_status's is above
            }
            p50_ratio(&format!("run_audit_all_{w}"), &native, Some(all_target));
            p50_ratio(&format!("run_audit_all_nofast_{w}"), &native, None);
            p50_ratio(
                &format!("run_audit_deny_{w}"),
                &format!("run_{w}"),
                Some(1.10),
            );
        }
        // The same ratios in CPU time (arbiter, its broker and the program), which a busy
        // machine disturbs much less than wall time; no targets (the issue's are wall).
        for w in ["git_status", "stat_open"] {
            let native = format!("native_{w}");
            for (a, b) in [
                (format!("run_{w}"), native.clone()),
                (format!("run_audit_all_{w}"), native.clone()),
                (format!("run_audit_deny_{w}"), format!("run_{w}")),
            ] {
                if let (Some(x), Some(y)) = (self.cpu_p50(&a), self.cpu_p50(&b)) {
                    out.push(Ratio {
                        label: format!("{a} / {b} (cpu p50)"),
                        value: x / y,
                        target: None,
                        unit: "×",
                    });
                }
            }
        }
        for kind in [
            "open",
            "stat",
            "access",
            "connect",
            "getaddrinfo",
            "sendto",
            "stat_rt",
            "open_rt",
        ] {
            let one = format!("brokered_{kind}");
            for suffix in ["t2", "t8", "p4"] {
                let many = format!("{one}_{suffix}");
                if let (Some(x), Some(y)) = (self.ops(&many), self.ops(&one)) {
                    out.push(Ratio {
                        label: format!("{many} / {one} (throughput)"),
                        value: x / y,
                        target: (suffix == "t2").then_some((1.6, false)),
                        unit: "×",
                    });
                }
            }
        }
        if let (Some(r), Some(n)) = (self.p50("run_true"), self.p50("native_true")) {
            out.push(Ratio {
                label: "run_true − native_true (p50)".into(),
                value: (r - n) / 1e6,
                target: Some((5.0, true)),
                unit: " ms",
            });
        }
        if let (Some(r), Some(n)) = (self.p50("run_python"), self.p50("native_python")) {
            out.push(Ratio {
                label: "run_python − native_python (p50)".into(),
                value: (r - n) / 1e6,
                target: None,
                unit: " ms",
            });
        }
        const MIB: f64 = 1024.0 * 1024.0;
        for idle in [1u32, 100] {
            if let Some(b) = self
                .get(&format!("broker_rss_{idle}"))
                .and_then(|e| e.bytes)
            {
                out.push(Ratio {
                    label: format!("broker_rss_{idle}"),
                    value: b as f64 / MIB,
                    target: Some((16.0 + f64::from(idle) * 0.25, true)),
                    unit: " MiB",
                });
            }
        }
        if let (Some(a), Some(b)) = (
            self.get("broker_rss_1").and_then(|e| e.bytes),
            self.get("broker_rss_100").and_then(|e| e.bytes),
        ) {
            out.push(Ratio {
                label: "per idle channel: (rss_100 − rss_1) / 99".into(),
                value: (b as f64 - a as f64) / 99.0 / 1024.0,
                target: Some((256.0, true)),
                unit: " KiB",
            });
        }
        out
    }

    /// The readable table: every result, then the ratios against their targets.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let m = &self.machine;
        let _ = writeln!(
            s,
            "machine: {} CPUs, {}, kernel {}, load {}",
            m.cpus, m.model, m.kernel, m.loadavg
        );
        let _ = writeln!(
            s,
            "{:<26} {:>12} {:>12} {:>12} {:>8}",
            "name", "p50", "p99", "ops/s", "n"
        );
        for e in &self.results {
            match e.bytes {
                Some(b) => {
                    let _ = writeln!(
                        s,
                        "{:<26} {:>12} {:>12} {:>12} {:>8}",
                        e.name,
                        format!("{:.1} MiB", b as f64 / 1048576.0),
                        "",
                        "",
                        e.n
                    );
                }
                None => {
                    let _ = writeln!(
                        s,
                        "{:<26} {:>12} {:>12} {:>12.0} {:>8}",
                        e.name,
                        human_ns(e.p50_ns.unwrap_or(0)),
                        human_ns(e.p99_ns.unwrap_or(0)),
                        e.ops_per_s.unwrap_or(0.0),
                        e.n
                    );
                }
            }
        }
        let _ = writeln!(s, "\n{:<60} {:>10} {:>12}  met", "ratio", "value", "target");
        for r in self.ratios() {
            let target = r.target.map_or(String::new(), |(t, le)| {
                format!("{} {t}{}", if le { "≤" } else { "≥" }, r.unit)
            });
            let met = match r.met() {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "",
            };
            let _ = writeln!(
                s,
                "{:<60} {:>10} {:>12}  {met}",
                r.label,
                format!("{:.2}{}", r.value, r.unit),
                target
            );
        }
        s
    }
}

/// A latency for people: `850 ns`, `12.30 µs`, `4.56 ms`.
pub fn human_ns(ns: u64) -> String {
    match ns {
        0..=999 => format!("{ns} ns"),
        1_000..=999_999 => format!("{:.2} µs", ns as f64 / 1e3),
        _ => format!("{:.2} ms", ns as f64 / 1e6),
    }
}
