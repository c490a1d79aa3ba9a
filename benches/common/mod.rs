//! A small benchmark harness shared by the benches: warm-up, then many samples of batches, with
//! the cases of a group interleaved sample by sample so that the machine's noise falls on all of
//! them alike. For each case it prints the median, p10 and p90 in nanoseconds per operation, and
//! against its named peer (a case measured in the same run) the ratio of medians, the median of
//! the per-round ratios and the median per-round difference.
//!
//! `cargo bench --bench <name>` runs the full measurement. Without `--bench` (as `cargo test
//! --benches` runs a bench binary) every case runs once, as a smoke test. Environment knobs:
//! `BENCH_SAMPLES` (samples per case), `BENCH_WARMUP_MS` (warm-up per case).
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// How much to measure.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Warm-up time per case; also used to size the batches.
    pub warmup: Duration,
    /// The time one sample (one batch) should take.
    pub sample: Duration,
    /// Samples per case.
    pub samples: usize,
}

impl Settings {
    /// `warmup`, `sample` and `samples`, overridden by `BENCH_WARMUP_MS` and `BENCH_SAMPLES`.
    pub fn new(warmup: Duration, sample: Duration, samples: usize) -> Self {
        let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        Settings {
            warmup: env("BENCH_WARMUP_MS").map(Duration::from_millis).unwrap_or(warmup),
            sample,
            samples: env("BENCH_SAMPLES").map(|n| n.max(1) as usize).unwrap_or(samples),
        }
    }
}

/// Whether the binary was started by `cargo bench` (which passes `--bench`).
pub fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A case's body: run the operation `n` times and return the time it took (the body may leave
/// set-up or tear-down out of the time).
type Body<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

struct Case<'a> {
    name: String,
    peer: Option<String>,
    body: Body<'a>,
    batch: u64,
    samples: Vec<f64>,
}

/// The figures of one case, in nanoseconds per operation.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The case.
    pub name: String,
    /// Operations per sample.
    pub batch: u64,
    /// Number of samples.
    pub samples: usize,
    /// Median.
    pub median: f64,
    /// 10th percentile.
    pub p10: f64,
    /// 90th percentile.
    pub p90: f64,
    /// The peer, if one was named.
    pub peer: Option<String>,
    /// Median of this case / median of the peer.
    pub ratio: Option<f64>,
    /// Median over rounds of (this sample / the peer's sample of the same round).
    pub paired_ratio: Option<f64>,
    /// Median over rounds of (this sample - the peer's sample of the same round).
    pub paired_difference: Option<f64>,
}

/// A group of cases measured together.
pub struct Group<'a> {
    title: String,
    settings: Settings,
    cases: Vec<Case<'a>>,
}

/// The `q` quantile (0..=1) of sorted values, by linear interpolation.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

/// The values, sorted (NaN last).
pub fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// Nanoseconds in a readable unit.
pub fn format_ns(ns: f64) -> String {
    let magnitude = ns.abs();
    if magnitude < 10_000.0 {
        format!("{ns:.1} ns")
    } else if magnitude < 10_000_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

impl<'a> Group<'a> {
    /// An empty group.
    pub fn new(title: &str, settings: Settings) -> Self {
        Group { title: title.to_owned(), settings, cases: Vec::new() }
    }

    /// Add a case whose body times itself: `body(n)` runs the operation `n` times and returns the
    /// time to count. `peer` names an earlier or later case of this group to compare with.
    pub fn timed(&mut self, name: &str, peer: Option<&str>, body: impl FnMut(u64) -> Duration + 'a) -> &mut Self {
        self.cases.push(Case {
            name: name.to_owned(),
            peer: peer.map(str::to_owned),
            body: Box::new(body),
            batch: 1,
            samples: Vec::new(),
        });
        self
    }

    /// Add a case whose whole body is the operation.
    pub fn case(&mut self, name: &str, peer: Option<&str>, mut op: impl FnMut() + 'a) -> &mut Self {
        self.timed(name, peer, move |n| {
            let started = Instant::now();
            for _ in 0..n {
                op();
            }
            started.elapsed()
        })
    }

    /// Warm up and size every case, take the samples round by round (rotating the order of the
    /// cases each round), print the table and return the summaries.
    pub fn run(&mut self) -> Vec<Summary> {
        let smoke = !measuring();
        let settings = self.settings;
        for case in &mut self.cases {
            if smoke {
                (case.body)(1);
                case.batch = 1;
                continue;
            }
            // The batch is sized from the fastest warm-up batch, so that one slow moment of a
            // noisy machine does not shrink it.
            let started = Instant::now();
            let mut n = 1u64;
            let mut per_op = f64::INFINITY;
            loop {
                let took = (case.body)(n);
                per_op = per_op.min(took.as_secs_f64() / n as f64);
                if started.elapsed() >= settings.warmup {
                    break;
                }
                if took < settings.sample / 4 {
                    n = n.saturating_mul(2);
                }
            }
            if !per_op.is_finite() || per_op <= 0.0 {
                per_op = 1e-9;
            }
            case.batch = ((settings.sample.as_secs_f64() / per_op) as u64).max(1);
        }
        let samples = if smoke { 1 } else { settings.samples };
        let count = self.cases.len();
        for round in 0..samples {
            for k in 0..count {
                let case = &mut self.cases[(round + k) % count];
                let took = (case.body)(case.batch);
                case.samples.push(took.as_nanos() as f64 / case.batch as f64);
            }
        }
        let summaries = self.summaries();
        self.print(&summaries, smoke);
        summaries
    }

    fn summaries(&self) -> Vec<Summary> {
        self.cases
            .iter()
            .map(|case| {
                let values = sorted(&case.samples);
                let median = quantile(&values, 0.5);
                let peer = case.peer.as_ref().map(|name| {
                    self.cases
                        .iter()
                        .find(|c| &c.name == name)
                        .unwrap_or_else(|| panic!("case {:?} names an unknown peer {name:?}", case.name))
                });
                let ratios: Option<Vec<f64>> =
                    peer.map(|p| sorted(&case.samples.iter().zip(&p.samples).map(|(a, b)| a / b).collect::<Vec<_>>()));
                let differences: Option<Vec<f64>> =
                    peer.map(|p| sorted(&case.samples.iter().zip(&p.samples).map(|(a, b)| a - b).collect::<Vec<_>>()));
                Summary {
                    name: case.name.clone(),
                    batch: case.batch,
                    samples: case.samples.len(),
                    median,
                    p10: quantile(&values, 0.1),
                    p90: quantile(&values, 0.9),
                    peer: case.peer.clone(),
                    ratio: peer.map(|p| median / quantile(&sorted(&p.samples), 0.5)),
                    paired_ratio: ratios.map(|r| quantile(&r, 0.5)),
                    paired_difference: differences.map(|d| quantile(&d, 0.5)),
                }
            })
            .collect()
    }

    fn print(&self, summaries: &[Summary], smoke: bool) {
        println!();
        if smoke {
            println!("== {} (smoke run: one sample each; use `cargo bench` to measure)", self.title);
        } else {
            let s = &self.settings;
            println!(
                "== {} ({} samples per case, batches of ~{:?}, {:?} warm-up per case; per operation)",
                self.title, s.samples, s.sample, s.warmup
            );
        }
        let width = summaries.iter().map(|s| s.name.chars().count()).max().unwrap_or(4).max(4);
        println!(
            "{:<width$}  {:>11}  {:>11}  {:>11}  {:>7}  {:>7}  {:>11}  vs peer",
            "case", "median", "p10", "p90", "ratio", "paired", "Δ paired"
        );
        for s in summaries {
            let ratio = s.ratio.map_or("-".to_owned(), |r| format!("{r:.2}x"));
            let paired = s.paired_ratio.map_or("-".to_owned(), |r| format!("{r:.2}x"));
            let difference = s.paired_difference.map_or("-".to_owned(), format_ns);
            println!(
                "{:<width$}  {:>11}  {:>11}  {:>11}  {:>7}  {:>7}  {:>11}  {} (batch {})",
                s.name,
                format_ns(s.median),
                format_ns(s.p10),
                format_ns(s.p90),
                ratio,
                paired,
                difference,
                s.peer.as_deref().unwrap_or("-"),
                s.batch
            );
        }
    }
}

/// The summary named `name`.
pub fn find<'s>(summaries: &'s [Summary], name: &str) -> &'s Summary {
    summaries.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no case {name:?}"))
}

/// Print a target line: `what` is `value` against `limit`, met or missed.
pub fn target(what: &str, value_ns: f64, limit_ns: f64) {
    let verdict = if value_ns <= limit_ns { "met" } else { "MISSED" };
    println!("target: {what} = {} (limit {}): {verdict}", format_ns(value_ns), format_ns(limit_ns));
}

/// Print the machine, so that a pasted result says where it came from.
pub fn print_machine() {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let profile = if cfg!(debug_assertions) { "debug" } else { "optimised" };
    println!("machine: {cpus} CPUs available, {model}; {profile} build; {}", std::env::consts::OS);
}
