//! Summaries of latency samples: median, 99th percentile, throughput.

use serde::{Deserialize, Serialize};

/// One benchmark's figures. Latencies are per operation, in nanoseconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// Median latency.
    pub p50_ns: u64,
    /// 99th-percentile latency.
    pub p99_ns: u64,
    /// Operations completed per second of wall time across all threads and processes.
    pub ops_per_s: f64,
    /// Number of timed operations.
    pub n: u64,
}

/// Clock reading in nanoseconds (`CLOCK_MONOTONIC`, served by the vDSO, not brokered).
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer for the call's duration.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The `q`-quantile (0..=1) of sorted samples, by the nearest-rank method.
fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Summarises `samples` (sorted in place) taken over `wall_ns` of wall time.
pub fn summarize(samples: &mut [u64], wall_ns: u64) -> Summary {
    samples.sort_unstable();
    let n = samples.len() as u64;
    Summary {
        p50_ns: quantile(samples, 0.50),
        p99_ns: quantile(samples, 0.99),
        ops_per_s: if wall_ns == 0 {
            0.0
        } else {
            n as f64 * 1e9 / wall_ns as f64
        },
        n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let mut s: Vec<u64> = (1..=100).rev().collect();
        let sum = summarize(&mut s, 1_000_000_000);
        assert_eq!(sum.p50_ns, 50);
        assert_eq!(sum.p99_ns, 99);
        assert_eq!(sum.n, 100);
        assert!((sum.ops_per_s - 100.0).abs() < 1e-9);
    }

    #[test]
    fn empty_samples_give_zeroes() {
        let sum = summarize(&mut [], 0);
        assert_eq!((sum.p50_ns, sum.n), (0, 0));
    }
}
