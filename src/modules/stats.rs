//! Counters for health: per module (loads, reloads, unloads, durations, failures) and per command
//! (calls, failures, latency histogram with percentiles).

use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Distinct command names tracked per module; further names are counted under `(other)`.
const MAX_TRACKED_COMMANDS: usize = 256;
/// Sub-buckets per power of two in the latency histogram (resolution ~19%).
const SUB_BUCKETS: usize = 4;
const BUCKETS: usize = 64 * SUB_BUCKETS;

/// A lock-free log-linear histogram of nanosecond latencies.
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Self { buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect() }
    }
}

fn bucket_of(ns: u64) -> usize {
    if ns < SUB_BUCKETS as u64 {
        return ns as usize;
    }
    let log = 63 - ns.leading_zeros() as usize;
    let sub = ((ns >> (log - 2)) & (SUB_BUCKETS as u64 - 1)) as usize;
    (log * SUB_BUCKETS + sub).min(BUCKETS - 1)
}

fn bucket_upper_bound(index: usize) -> u64 {
    if index < SUB_BUCKETS {
        return index as u64;
    }
    let log = index / SUB_BUCKETS;
    let sub = (index % SUB_BUCKETS) as u64;
    let base = 1u64 << log;
    base + (sub + 1) * (base / SUB_BUCKETS as u64) - 1
}

impl Histogram {
    /// Record one latency.
    #[inline]
    pub fn record(&self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(ns)].fetch_add(1, Ordering::Relaxed);
    }

    /// The upper bound of the bucket holding quantile `q` (0..=1), in nanoseconds.
    pub fn quantile_ns(&self, q: f64) -> Option<u64> {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(bucket_upper_bound(i));
            }
        }
        None
    }
}

/// Counters of one command.
#[derive(Default)]
pub struct CommandStats {
    calls: AtomicU64,
    failures: AtomicU64,
    latency: Histogram,
}

impl CommandStats {
    #[inline]
    fn record(&self, latency: Duration, ok: bool) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        self.latency.record(latency);
    }
}

/// A snapshot of one command for health.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CommandReport {
    /// The command.
    pub command: String,
    /// Calls made.
    pub calls: u64,
    /// Calls that returned an error.
    pub failures: u64,
    /// Latency percentiles in microseconds (bucket upper bounds).
    pub p50_us: Option<f64>,
    /// 90th percentile.
    pub p90_us: Option<f64>,
    /// 99th percentile.
    pub p99_us: Option<f64>,
}

/// Counters of one module across its generations.
#[derive(Default)]
pub struct ModuleStats {
    /// Successful loads (1) plus successful reloads.
    pub loads: AtomicU64,
    /// Successful reloads.
    pub reloads: AtomicU64,
    /// Reloads that failed and rolled back.
    pub reload_failures: AtomicU64,
    /// Unloads (0 or 1 for a module entry; kept for the report).
    pub unloads: AtomicU64,
    /// Calls that returned an error of any kind.
    pub execute_failures: AtomicU64,
    /// Durations of the last operations.
    pub last: Mutex<LastDurations>,
    commands: RwLock<HashMap<Box<str>, CommandStats>>,
}

/// The last duration of each operation.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct LastDurations {
    /// Copy + load + handshake + init of the first generation, in milliseconds.
    pub load_ms: Option<f64>,
    /// The last whole reload, in milliseconds.
    pub reload_ms: Option<f64>,
    /// The last unload, in milliseconds.
    pub unload_ms: Option<f64>,
}

/// Milliseconds as a float, for reports.
pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl ModuleStats {
    /// Record a call of `command` (`None` = an unknown command) that took `latency`.
    #[inline]
    pub fn record_call(&self, command: Option<&str>, latency: Duration, ok: bool) {
        if !ok {
            self.execute_failures.fetch_add(1, Ordering::Relaxed);
        }
        let key = command.unwrap_or("(unknown)");
        if let Some(stats) = self.commands.read().get(key) {
            stats.record(latency, ok);
            return;
        }
        let mut commands = self.commands.write();
        let key = if commands.len() >= MAX_TRACKED_COMMANDS && !commands.contains_key(key) { "(other)" } else { key };
        commands.entry(key.into()).or_default().record(latency, ok);
    }

    /// Per-command snapshot, sorted by command.
    pub fn commands(&self) -> Vec<CommandReport> {
        let us = |ns: Option<u64>| ns.map(|n| n as f64 / 1000.0);
        let mut out: Vec<CommandReport> = self
            .commands
            .read()
            .iter()
            .map(|(name, s)| CommandReport {
                command: name.to_string(),
                calls: s.calls.load(Ordering::Relaxed),
                failures: s.failures.load(Ordering::Relaxed),
                p50_us: us(s.latency.quantile_ns(0.5)),
                p90_us: us(s.latency.quantile_ns(0.9)),
                p99_us: us(s.latency.quantile_ns(0.99)),
            })
            .collect();
        out.sort_by(|a, b| a.command.cmp(&b.command));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_bounds_cover_values() {
        let mut last = 0;
        for ns in [0u64, 1, 3, 4, 5, 7, 8, 100, 1_000, 1_000_000, u64::MAX / 2] {
            let b = bucket_of(ns);
            assert!(b >= last);
            assert!(bucket_upper_bound(b) >= ns, "{ns} in bucket {b}");
            last = b;
        }
    }

    #[test]
    fn quantiles_track_the_distribution() {
        let h = Histogram::default();
        assert_eq!(h.quantile_ns(0.5), None);
        for _ in 0..90 {
            h.record(Duration::from_nanos(1_000));
        }
        for _ in 0..10 {
            h.record(Duration::from_nanos(1_000_000));
        }
        let p50 = h.quantile_ns(0.5).unwrap();
        let p99 = h.quantile_ns(0.99).unwrap();
        assert!((1_000..1_300).contains(&p50), "{p50}");
        assert!((1_000_000..1_300_000).contains(&p99), "{p99}");
    }

    #[test]
    fn command_names_are_capped() {
        let s = ModuleStats::default();
        for i in 0..MAX_TRACKED_COMMANDS + 10 {
            s.record_call(Some(&format!("c{i}")), Duration::from_nanos(10), true);
        }
        s.record_call(None, Duration::from_nanos(10), false);
        let commands = s.commands();
        assert_eq!(commands.len(), MAX_TRACKED_COMMANDS + 1);
        let other = commands.iter().find(|c| c.command == "(other)").unwrap();
        assert_eq!(other.calls, 11, "ten new names and the unknown command");
        assert_eq!(s.execute_failures.load(Ordering::Relaxed), 1);
    }
}
