//! Counters for health: per module (loads, reloads, unloads, durations, failures) and per command
//! (calls, failures, latency histogram with percentiles).
//!
//! Recording a call is on the hot path of every execute, so it takes no lock and reads the clock
//! only for the calls it times: the per-command table is an open-addressing table whose slots are
//! filled once (under a mutex, the first time a name is seen) and only read afterwards, and the
//! latency histogram holds every call of a command up to [`ALWAYS_TIMED`] calls, then a random
//! sample of one call in [`SAMPLE_EVERY`] per thread (reading the clock twice costs more than the
//! rest of the bookkeeping). Call and failure counts are exact; percentiles come from the sample.

use parking_lot::Mutex;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// Distinct command names tracked per module; further names are counted under `(other)`.
const MAX_TRACKED_COMMANDS: usize = 256;
/// Slots of the command table: a power of two, more than twice the names it can hold, so probe
/// sequences stay short and an empty slot always ends them.
const TABLE_SLOTS: usize = 1024;
/// Calls of a command that are all timed before sampling starts.
const ALWAYS_TIMED: u64 = 1024;
/// After [`ALWAYS_TIMED`] calls, one call in this many (chosen at random) is timed.
const SAMPLE_EVERY: u32 = 16;
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

thread_local! {
    /// This thread's sampling state (xorshift32; never 0).
    static SAMPLER: Cell<u32> = Cell::new({
        let seed = std::collections::hash_map::RandomState::new();
        (std::hash::BuildHasher::hash_one(&seed, std::thread::current().id()) as u32) | 1
    });
}

/// One pseudo-random draw per call: true one time in [`SAMPLE_EVERY`].
#[inline]
fn sample_now() -> bool {
    SAMPLER.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        state.set(x);
        x % SAMPLE_EVERY == 0
    })
}

impl CommandStats {
    /// Whether to time the next call: every call at first, then a random sample.
    #[inline]
    pub fn time_next_call(&self) -> bool {
        self.calls.load(Ordering::Relaxed) < ALWAYS_TIMED || sample_now()
    }

    /// Count a call, and add its latency to the histogram if it was timed.
    #[inline]
    pub fn record(&self, latency: Option<Duration>, ok: bool) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(latency) = latency {
            self.latency.record(latency);
        }
    }
}

/// A tracked command: its name and counters, allocated when the name is first seen.
struct Tracked {
    name: Box<str>,
    stats: CommandStats,
}

/// FNV-1a: command names are short, and the table holds at most [`MAX_TRACKED_COMMANDS`] + 1 of
/// them, so even if every name collided a lookup would probe a bounded number of slots; a
/// collision-resistant hash would cost more than it protects.
#[inline]
fn hash(name: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name.as_bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h ^ (h >> 32)) as usize
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
    /// Latency percentiles in microseconds (bucket upper bounds), from every call of the first
    /// 1,024, then from a random sample of one call in 16.
    pub p50_us: Option<f64>,
    /// 90th percentile.
    pub p90_us: Option<f64>,
    /// 99th percentile.
    pub p99_us: Option<f64>,
}

/// A reload that failed: what it tried to load and why it failed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FailedReload {
    /// The file the reload tried to load (the module's own, or the path given to the reload).
    pub path: std::path::PathBuf,
    /// Why it failed.
    pub error: String,
}

/// Counters of one module across its generations.
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
    /// The latest reload, when it failed (the previous generation kept serving); cleared when a
    /// reload succeeds.
    pub failed_reload: Mutex<Option<FailedReload>>,
    /// Open addressing with linear probing; a slot, once set, never changes.
    commands: Box<[OnceLock<Box<Tracked>>]>,
    /// Serialises filling slots; holds the number of names tracked.
    tracked: Mutex<usize>,
}

impl Default for ModuleStats {
    fn default() -> Self {
        Self {
            loads: AtomicU64::new(0),
            reloads: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
            unloads: AtomicU64::new(0),
            execute_failures: AtomicU64::new(0),
            last: Mutex::new(LastDurations::default()),
            failed_reload: Mutex::new(None),
            commands: (0..TABLE_SLOTS).map(|_| OnceLock::new()).collect(),
            tracked: Mutex::new(0),
        }
    }
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
    /// The counters of `command` if it has been recorded before. Lock-free.
    #[inline]
    pub fn find(&self, command: &str) -> Option<&CommandStats> {
        let mut i = hash(command) & (TABLE_SLOTS - 1);
        loop {
            match self.commands[i].get() {
                Some(t) if *t.name == *command => return Some(&t.stats),
                Some(_) => i = (i + 1) & (TABLE_SLOTS - 1),
                None => return None,
            }
        }
    }

    /// The counters of `command`, tracking it if it is new (or `(other)` once the table is full).
    fn find_or_track(&self, command: &str) -> &CommandStats {
        if let Some(stats) = self.find(command) {
            return stats;
        }
        let mut tracked = self.tracked.lock();
        let name = if *tracked >= MAX_TRACKED_COMMANDS && self.find(command).is_none() { "(other)" } else { command };
        let mut i = hash(name) & (TABLE_SLOTS - 1);
        loop {
            let slot = &self.commands[i];
            match slot.get() {
                Some(t) if *t.name == *name => return &t.stats,
                Some(_) => i = (i + 1) & (TABLE_SLOTS - 1),
                None => {
                    *tracked += 1;
                    let t =
                        slot.get_or_init(|| Box::new(Tracked { name: name.into(), stats: CommandStats::default() }));
                    return &t.stats;
                }
            }
        }
    }

    /// Record a call of `command` (`None` = an unknown command); `latency` when it was timed.
    /// `found` is what [`find`](Self::find) returned for the command before the call, if anything.
    #[inline]
    pub fn record_call(
        &self,
        found: Option<&CommandStats>,
        command: Option<&str>,
        latency: Option<Duration>,
        ok: bool,
    ) {
        if !ok {
            self.execute_failures.fetch_add(1, Ordering::Relaxed);
        }
        match (found, command) {
            (Some(stats), Some(_)) => stats.record(latency, ok),
            _ => self.find_or_track(command.unwrap_or("(unknown)")).record(latency, ok),
        }
    }

    /// Per-command snapshot, sorted by command.
    pub fn commands(&self) -> Vec<CommandReport> {
        let us = |ns: Option<u64>| ns.map(|n| n as f64 / 1000.0);
        let mut out: Vec<CommandReport> = self
            .commands
            .iter()
            .filter_map(OnceLock::get)
            .map(|t| (&t.name, &t.stats))
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
            let name = format!("c{i}");
            s.record_call(s.find(&name), Some(&name), Some(Duration::from_nanos(10)), true);
        }
        s.record_call(None, None, Some(Duration::from_nanos(10)), false);
        let commands = s.commands();
        assert_eq!(commands.len(), MAX_TRACKED_COMMANDS + 1);
        let other = commands.iter().find(|c| c.command == "(other)").unwrap();
        assert_eq!(other.calls, 11, "ten new names and the unknown command");
        assert_eq!(s.execute_failures.load(Ordering::Relaxed), 1);
        assert!(s.find("c0").is_some() && s.find(&format!("c{MAX_TRACKED_COMMANDS}")).is_none());
        assert_eq!(commands.iter().map(|c| c.calls).sum::<u64>(), MAX_TRACKED_COMMANDS as u64 + 11);
    }

    #[test]
    fn calls_are_counted_exactly_and_timed_by_sample() {
        let s = ModuleStats::default();
        let calls = ALWAYS_TIMED + 64_000;
        let mut timed = 0;
        for _ in 0..calls {
            let found = s.find("noop");
            let time = found.is_none_or(CommandStats::time_next_call);
            timed += u64::from(time);
            s.record_call(found, Some("noop"), time.then(|| Duration::from_nanos(100)), true);
        }
        let noop = &s.commands()[0];
        assert_eq!((noop.command.as_str(), noop.calls, noop.failures), ("noop", calls, 0));
        let sampled = timed - ALWAYS_TIMED;
        let expected = 64_000 / u64::from(SAMPLE_EVERY);
        assert!(sampled > expected / 2 && sampled < expected * 2, "{sampled} calls sampled, about {expected} expected");
        assert!(noop.p50_us.is_some());
    }
}
