//! `arbiter bench --plot FILE.svg`: a report's p50 latencies as horizontal bars on a
//! logarithmic axis, one group per call family, written as plain SVG text (no plotting
//! crate).
//!
//! Each family shows, where the report has them, the native call, the channel's physical
//! limit (`ideal_open_rt` for open, `bare_rt` for the others), the call brokered through the
//! shim (and with `--no-fast-path`), and the same call through the seccomp transport.
//! Multi-thread and multi-process variants are left out: they measure contention on the
//! machine rather than what one call costs.

use std::fmt::Write;

use crate::report::{human_ns, Report};

/// What a bar measures; sets its colour and its legend entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The libc call in the bench process, no arbiter.
    Native,
    /// A SEQPACKET round trip to a server that does no work (or only the open).
    RoundTrip,
    /// The call inside `arbiter run`, sent to the broker by the shim.
    Brokered,
    /// The same with `arbiter run --no-fast-path`.
    NoFastPath,
    /// The call as a raw system call, brokered by seccomp user notification.
    Seccomp,
}

impl Role {
    /// Every role, in legend order.
    const ALL: [Role; 5] = [
        Role::Native,
        Role::RoundTrip,
        Role::Brokered,
        Role::NoFastPath,
        Role::Seccomp,
    ];

    fn colour(self) -> &'static str {
        match self {
            Role::Native => "#8c8c8c",
            Role::RoundTrip => "#4e79a7",
            Role::Brokered => "#f28e2b",
            Role::NoFastPath => "#e15759",
            Role::Seccomp => "#59a14f",
        }
    }

    fn legend(self) -> &'static str {
        match self {
            Role::Native => "native (no arbiter)",
            Role::RoundTrip => "bare / ideal round trip",
            Role::Brokered => "brokered (shim)",
            Role::NoFastPath => "brokered, --no-fast-path",
            Role::Seccomp => "brokered (seccomp notify)",
        }
    }
}

/// The call families and the results drawn for each, in drawing order.
pub const FAMILIES: &[(&str, &[(&str, Role)])] = &[
    (
        "open",
        &[
            ("native_open", Role::Native),
            ("ideal_open_rt", Role::RoundTrip),
            ("brokered_open", Role::Brokered),
            ("brokered_open_rt", Role::NoFastPath),
            ("seccomp_open", Role::Seccomp),
        ],
    ),
    (
        "stat",
        &[
            ("native_stat", Role::Native),
            ("bare_rt", Role::RoundTrip),
            ("brokered_stat", Role::Brokered),
            ("brokered_stat_rt", Role::NoFastPath),
            ("seccomp_stat", Role::Seccomp),
        ],
    ),
    (
        "access",
        &[
            ("bare_rt", Role::RoundTrip),
            ("brokered_access", Role::Brokered),
        ],
    ),
    (
        "connect",
        &[
            ("native_connect", Role::Native),
            ("bare_rt", Role::RoundTrip),
            ("brokered_connect", Role::Brokered),
        ],
    ),
    (
        "getaddrinfo",
        &[
            ("native_getaddrinfo", Role::Native),
            ("bare_rt", Role::RoundTrip),
            ("brokered_getaddrinfo", Role::Brokered),
        ],
    ),
];

/// One bar: a result's median latency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    /// The result's name (`brokered_stat`).
    pub label: &'static str,
    /// What it measures.
    pub role: Role,
    /// Its median latency (ns).
    pub p50_ns: u64,
}

/// One call family's bars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// `open`, `stat`…
    pub family: &'static str,
    /// Its bars, in [`FAMILIES`] order.
    pub bars: Vec<Bar>,
}

/// The bars `report` has for each family. A family is left out when the report has
/// nothing of its own for it (the shared round trip alone says nothing about the family).
pub fn groups(report: &Report) -> Vec<Group> {
    FAMILIES
        .iter()
        .filter_map(|&(family, members)| {
            let bars: Vec<Bar> = members
                .iter()
                .filter_map(|&(label, role)| {
                    let p50_ns = report.get(label)?.p50_ns?;
                    Some(Bar {
                        label,
                        role,
                        p50_ns,
                    })
                })
                .collect();
            bars.iter()
                .any(|b| b.role != Role::RoundTrip)
                .then_some(Group { family, bars })
        })
        .collect()
}

/// Escapes text for SVG content and attribute values.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The label of the axis tick at 10^`exp` ns: `1 ns`, `10 µs`, `100 ms`, `1 s`.
fn decade_label(exp: i32) -> String {
    let (unit, base) = match exp {
        ..=2 => ("ns", 0),
        3..=5 => ("µs", 3),
        6..=8 => ("ms", 6),
        _ => ("s", 9),
    };
    format!("{} {unit}", 10u64.pow((exp - base).max(0) as u32))
}

const WIDTH: f64 = 960.0;
/// Where the result labels end (right-aligned).
const LABEL_END: f64 = 194.0;
/// Where the bars start.
const BAR_X: f64 = 200.0;
/// The length of a bar reaching the top of the axis.
const BAR_SPAN: f64 = 640.0;
const ROW: f64 = 18.0;
const BAR_H: f64 = 13.0;
const GROUP_HEAD: f64 = 20.0;
const GROUP_GAP: f64 = 8.0;
/// Top of the first group (below the title, machine line and legend).
const TOP: f64 = 80.0;

/// Renders `report`'s p50 latencies per call family as a standalone SVG document.
pub fn render(report: &Report) -> String {
    let groups = groups(report);
    let values = groups.iter().flat_map(|g| &g.bars).map(|b| b.p50_ns.max(1));
    let (lo, hi) = values.fold((u64::MAX, 0), |(lo, hi), v| (lo.min(v), hi.max(v)));
    // Whole decades around the data, the lowest strictly below the shortest bar so that
    // every bar has a visible length.
    let (lo_exp, hi_exp) = if hi == 0 {
        (2, 5) // nothing to draw: 100 ns to 100 µs
    } else {
        let lo_exp = (lo as f64).log10().ceil() as i32 - 1;
        (lo_exp, ((hi as f64).log10().ceil() as i32).max(lo_exp + 1))
    };
    let x_of = |ns: u64| {
        let frac = ((ns.max(1) as f64).log10() - f64::from(lo_exp)) / f64::from(hi_exp - lo_exp);
        BAR_X + BAR_SPAN * frac
    };
    let rows: usize = groups.iter().map(|g| g.bars.len()).sum();
    let bottom = TOP + groups.len() as f64 * (GROUP_HEAD + GROUP_GAP) + rows as f64 * ROW;
    let height = bottom + 44.0;

    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"DejaVu Sans, Arial, sans-serif\" \
         font-size=\"12\">"
    );
    let _ = writeln!(
        s,
        "<rect width=\"{WIDTH}\" height=\"{height}\" fill=\"white\"/>"
    );
    let _ = writeln!(
        s,
        "<text x=\"20\" y=\"24\" font-size=\"16\" font-weight=\"bold\">arbiter bench: \
         median latency per call (p50, log scale)</text>"
    );
    let m = &report.machine;
    let _ = writeln!(
        s,
        "<text x=\"20\" y=\"42\" font-size=\"11\" fill=\"#555\">{}</text>",
        esc(&format!(
            "{} CPUs, {}, kernel {}, load {}",
            m.cpus, m.model, m.kernel, m.loadavg
        ))
    );

    // Legend: the roles that have at least one bar.
    let mut x = 20.0;
    for role in Role::ALL {
        if !groups.iter().flat_map(|g| &g.bars).any(|b| b.role == role) {
            continue;
        }
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"52\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"62\">{}</text>",
            role.colour(),
            x + 16.0,
            esc(role.legend())
        );
        x += 16.0 + 7.0 * role.legend().chars().count() as f64 + 18.0;
    }

    if groups.is_empty() {
        let _ = writeln!(
            s,
            "<text x=\"20\" y=\"{}\">no latency results in this report</text>",
            TOP + 14.0
        );
    }

    // Decade grid lines and their labels under the plot.
    for exp in lo_exp..=hi_exp {
        let gx = x_of(10u64.pow(exp as u32));
        let _ = writeln!(
            s,
            "<line x1=\"{gx:.1}\" y1=\"{TOP}\" x2=\"{gx:.1}\" y2=\"{bottom}\" stroke=\"#ddd\"/>\
             <text x=\"{gx:.1}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
            bottom + 16.0,
            esc(&decade_label(exp))
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#555\">\
         p50 latency (log scale)</text>",
        BAR_X + BAR_SPAN / 2.0,
        bottom + 34.0
    );

    let mut y = TOP;
    for g in &groups {
        let _ = writeln!(
            s,
            "<text x=\"20\" y=\"{}\" font-weight=\"bold\">{}</text>",
            y + 14.0,
            esc(g.family)
        );
        y += GROUP_HEAD;
        for b in &g.bars {
            let w = (x_of(b.p50_ns) - BAR_X).max(1.0);
            let value = human_ns(b.p50_ns);
            let _ = writeln!(
                s,
                "<text class=\"label\" x=\"{LABEL_END}\" y=\"{ty}\" text-anchor=\"end\">{label}</text>\
                 <rect class=\"bar\" x=\"{BAR_X}\" y=\"{ry}\" width=\"{w:.1}\" height=\"{BAR_H}\" \
                 fill=\"{fill}\"><title>{label}: p50 {value}</title></rect>\
                 <text class=\"value\" x=\"{vx:.1}\" y=\"{ty}\" font-size=\"11\">{value}</text>",
                ty = y + 12.0,
                ry = y + 2.0,
                label = esc(b.label),
                fill = b.role.colour(),
                value = esc(&value),
                vx = BAR_X + w + 5.0,
            );
            y += ROW;
        }
        y += GROUP_GAP;
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Entry, Machine};

    fn latency(name: &str, p50_ns: u64) -> Entry {
        Entry {
            name: name.into(),
            p50_ns: Some(p50_ns),
            p99_ns: Some(p50_ns * 2),
            ops_per_s: Some(1e9 / p50_ns as f64),
            n: 100,
            bytes: None,
            cpu_p50_ns: None,
        }
    }

    fn report(results: Vec<Entry>) -> Report {
        Report {
            machine: Machine {
                cpus: 2,
                kernel: "6.1.0".into(),
                model: "Fast & <Cheap> \"CPU\"".into(),
                loadavg: "0.1".into(),
            },
            results,
        }
    }

    /// Checks that every tag is closed in order and that text has no stray `<`, `>` or `&`;
    /// returns the names of the elements met, in document order.
    fn well_formed(svg: &str) -> Vec<String> {
        let mut stack: Vec<String> = Vec::new();
        let mut seen = Vec::new();
        let mut rest = svg;
        while let Some(open) = rest.find('<') {
            let text = &rest[..open];
            assert!(!text.contains('>'), "stray '>' in text {text:?}");
            for (i, _) in text.match_indices('&') {
                let entity = &text[i..];
                assert!(
                    ["&amp;", "&lt;", "&gt;", "&quot;"]
                        .iter()
                        .any(|e| entity.starts_with(e)),
                    "unescaped '&' in {text:?}"
                );
            }
            let close = rest[open..].find('>').expect("unterminated tag") + open;
            let tag = &rest[open + 1..close];
            assert!(!tag.contains('<'), "'<' inside tag {tag:?}");
            if let Some(name) = tag.strip_prefix('/') {
                let top = stack
                    .pop()
                    .unwrap_or_else(|| panic!("</{name}> closes nothing"));
                assert_eq!(top, name, "</{name}> closes <{top}>");
            } else {
                let name = tag
                    .split_whitespace()
                    .next()
                    .expect("tag name")
                    .trim_end_matches('/')
                    .to_owned();
                seen.push(name.clone());
                if !tag.ends_with('/') {
                    stack.push(name);
                }
            }
            rest = &rest[close + 1..];
        }
        assert!(rest.trim().is_empty(), "text after the root: {rest:?}");
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        seen
    }

    #[test]
    fn one_labelled_bar_per_result_of_each_family() {
        let r = report(vec![
            latency("bare_rt", 9_000),
            latency("native_stat", 1_000),
            latency("brokered_stat", 20_000),
            latency("brokered_stat_t2", 25_000), // a variant: not drawn
            latency("native_open", 2_000),
            latency("brokered_open", 22_000),
            latency("seccomp_open", 50_000),
            latency("run_true", 14_000_000), // not a call family
        ]);
        let svg = render(&r);
        let elements = well_formed(&svg);
        assert_eq!(elements.first().map(String::as_str), Some("svg"));

        // open: native, brokered, seccomp (no ideal_open_rt); stat: native, bare, brokered.
        // access, connect and getaddrinfo have only the shared bare_rt: left out.
        let expected = [
            "native_open",
            "brokered_open",
            "seccomp_open",
            "native_stat",
            "bare_rt",
            "brokered_stat",
        ];
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), expected.len());
        let labels: Vec<&str> = svg
            .split("<text class=\"label\"")
            .skip(1)
            .map(|t| {
                let start = t.find('>').expect("text content") + 1;
                &t[start..start + t[start..].find('<').expect("</text>")]
            })
            .collect();
        assert_eq!(labels, expected);
        for family in ["open", "stat"] {
            assert!(svg.contains(&format!("font-weight=\"bold\">{family}</text>")));
        }
        for absent in [
            "access",
            "connect",
            "getaddrinfo",
            "brokered_stat_t2",
            "run_true",
        ] {
            assert!(!svg.contains(&format!(">{absent}<")), "{absent} drawn");
        }
        // The values, the axis and the escaped machine line.
        assert!(svg.contains(">20.00 µs</text>"));
        assert!(svg.contains(">1 µs</text>") && svg.contains(">100 µs</text>"));
        assert!(svg.contains("Fast &amp; &lt;Cheap&gt; &quot;CPU&quot;"));
    }

    #[test]
    fn longer_latency_longer_bar() {
        let r = report(vec![
            latency("native_stat", 1_000),
            latency("brokered_stat", 20_000),
        ]);
        let svg = render(&r);
        let widths: Vec<f64> = svg
            .split("<rect class=\"bar\"")
            .skip(1)
            .map(|t| {
                let w = &t[t.find("width=\"").expect("width") + 7..];
                w[..w.find('"').expect("quote")].parse().expect("number")
            })
            .collect();
        assert_eq!(widths.len(), 2);
        assert!(widths[0] < widths[1], "{widths:?}");
    }

    #[test]
    fn an_empty_report_is_still_a_document() {
        let svg = render(&report(Vec::new()));
        well_formed(&svg);
        assert!(svg.contains("no latency results"));
    }

    #[test]
    fn decade_labels() {
        assert_eq!(decade_label(0), "1 ns");
        assert_eq!(decade_label(2), "100 ns");
        assert_eq!(decade_label(4), "10 µs");
        assert_eq!(decade_label(8), "100 ms");
        assert_eq!(decade_label(9), "1 s");
    }
}
