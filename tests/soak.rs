//! Soak: 1,000 reloads, alternating the counter and counter_v2 files (the counter hands its value
//! across every time), while 8 threads call the module without pause. Checks that no call failed,
//! that no increment was lost or doubled, that no thread saw the value go backwards, and that the
//! process holds no more mappings, files or shadow folders afterwards than before.
//!
//! The figures are printed; run `cargo test --test soak -- --nocapture` to see them.

mod support;

use plughost::platform::{process_figures, ProcessFigures};
use plughost::Host;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use support::{rust_modules, Sandbox};

const RELOADS: usize = 1_000;
const THREADS: usize = 8;
/// Increments each thread can record without growing its record (8 bytes each; only touched
/// pages take memory).
const RECORD_CAPACITY: usize = 1 << 21;
/// Mappings the process may gain during the soak without a leak; see `soak_reloads_under_load`.
const MAPPING_SLACK: u64 = 16;
/// Descriptors the process may gain: none are expected; 2 covers a descriptor another part of
/// the process has open for a moment while the figures are read.
const FD_SLACK: u64 = 2;

/// What one calling thread saw.
#[derive(Default)]
struct Calls {
    /// Value returned by each successful `increment`, in the order this thread made them.
    increments: Vec<i64>,
    gets: u64,
    noops: u64,
    failures: u64,
    first_failure: Option<String>,
    /// Times a value was lower than one this thread had seen before.
    backwards: u64,
}

impl Calls {
    fn total(&self) -> u64 {
        self.increments.len() as u64 + self.gets + self.noops + self.failures
    }
}

fn number(bytes: &[u8]) -> i64 {
    std::str::from_utf8(bytes).ok().and_then(|t| t.parse().ok()).unwrap_or_else(|| panic!("not a number: {bytes:?}"))
}

/// Call `increment`, `get` and `noop` in turn until `stop` is set.
fn call_without_pause(host: &Host, id: plughost::modules::ModuleId, stop: &AtomicBool, offset: usize) -> Calls {
    // Reserved up front, so that the record's own mapping exists before the "before" figures.
    let mut calls = Calls { increments: Vec::with_capacity(RECORD_CAPACITY), ..Calls::default() };
    let mut seen = 0i64;
    let mut i = offset;
    while !stop.load(Ordering::Relaxed) {
        let command = ["increment", "get", "noop"][i % 3];
        i += 1;
        match host.execute(id, command, b"") {
            Ok(out) => {
                let value = match command {
                    "increment" => {
                        let v = number(&out);
                        calls.increments.push(v);
                        // An increment returns the value after it, so strictly above anything seen.
                        if v <= seen {
                            calls.backwards += 1;
                        }
                        v
                    }
                    "get" => {
                        calls.gets += 1;
                        let v = number(&out);
                        if v < seen {
                            calls.backwards += 1;
                        }
                        v
                    }
                    _ => {
                        calls.noops += 1;
                        seen
                    }
                };
                seen = seen.max(value);
            }
            Err(e) => {
                calls.failures += 1;
                calls.first_failure.get_or_insert_with(|| format!("{command}: {e}"));
            }
        }
    }
    calls
}

fn mappings_of(dir: &std::path::Path) -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let needle = dir.display().to_string();
    maps.lines()
        .filter_map(|l| l.find(&needle).map(|at| l[at..].to_owned()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn show(figures: &ProcessFigures) -> String {
    let or = |v: Option<u64>| v.map_or("?".to_owned(), |n| n.to_string());
    format!(
        "RSS {} KiB, {} threads, {} fds, {} mappings",
        figures.rss_bytes.map_or("?".to_owned(), |b| (b / 1024).to_string()),
        or(figures.threads),
        or(figures.open_fds),
        or(figures.mappings)
    )
}

/// The soak. It runs in the ordinary `cargo test` (debug build of the host, release modules).
///
/// The mapping bound: before and after are both taken with the 8 threads running, their records
/// of returned values already allocated (a large allocation is a mapping of its own), and exactly
/// one generation of the counter (a v1 build) mapped, so a leak-free run ends where it started
/// (measured: +0). What may still grow is glibc's malloc: another arena (a heap mapping, split in
/// two by its protection) when threads contend for the existing ones, up to 8 per CPU, or a large
/// allocation alive at that moment. 16 leaves room for eight new arenas. A leaked generation adds
/// the 4 mappings of its shadow copy, and those are also checked exactly: before and after, only
/// the serving generation's file is mapped from the shadow directory.
#[test]
fn soak_reloads_under_load() {
    let modules = rust_modules();
    let sb = Sandbox::new();
    let v1 = sb.install(&modules.counter, "counter");
    let v2 = sb.install(&modules.counter_v2, "counter_v2");
    let host = Host::from_json(&sb.config("")).unwrap();
    let id = host.load_module(&v1).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(Barrier::new(THREADS + 1));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (host, stop, started) = (host.clone(), stop.clone(), started.clone());
            std::thread::spawn(move || {
                started.wait();
                call_without_pause(&host, id, &stop, t)
            })
        })
        .collect();
    started.wait();
    std::thread::sleep(Duration::from_millis(100));
    let before = process_figures();
    let shadow_before = mappings_of(&sb.shadow());

    let soak_started = Instant::now();
    let mut reload_times = Vec::with_capacity(RELOADS);
    for i in 0..RELOADS {
        let path = if i % 2 == 0 { &v2 } else { &v1 };
        let t = Instant::now();
        let generation = host.reload_module(id, Some(path)).unwrap_or_else(|e| panic!("reload {i}: {e}"));
        reload_times.push(t.elapsed());
        assert_eq!(generation, i as u64 + 2);
    }
    let soak_time = soak_started.elapsed();
    let after = process_figures();
    let shadow_after = mappings_of(&sb.shadow());
    let folders = sb.shadow_folders();

    stop.store(true, Ordering::SeqCst);
    let calls: Vec<Calls> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let final_value = number(&host.execute(id, "get", b"").unwrap());
    let version = host.execute(id, "version", b"").unwrap();
    let health: serde_json::Value = serde_json::from_str(&host.health_json()).unwrap();
    host.unload_module(id).unwrap();
    let folders_after_unload = sb.shadow_folders();

    let total: u64 = calls.iter().map(Calls::total).sum();
    let failures: u64 = calls.iter().map(|c| c.failures).sum();
    let backwards: u64 = calls.iter().map(|c| c.backwards).sum();
    let mut values: Vec<i64> = calls.iter().flat_map(|c| c.increments.iter().copied()).collect();
    values.sort_unstable();
    let steps: Vec<i64> = values.windows(2).map(|w| w[1] - w[0]).collect();
    let doubles = steps.iter().filter(|&&s| s == 2).count() + usize::from(values.first() == Some(&2));
    reload_times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;

    let report = format!(
        "soak: {RELOADS} reloads in {:.1} s (reload under load: median {:.2} ms, p99 {:.2} ms, max {:.2} ms) with \
         {THREADS} threads calling without pause\n\
         soak: {total} calls ({:.0}/s), {failures} failed, {} increments ({doubles} of them by v2, +2), final \
         value {final_value}, {backwards} backward steps seen\n\
         soak: before: {}\n\
         soak: after:  {} (the threads' records of returned values hold {} KiB of it)\n\
         soak: shadow folders left: {folders} (the serving generation), {folders_after_unload} after unload; \
         retained generations: {}",
        soak_time.as_secs_f64(),
        ms(reload_times[RELOADS / 2]),
        ms(reload_times[RELOADS * 99 / 100]),
        ms(reload_times[RELOADS - 1]),
        total as f64 / soak_time.as_secs_f64(),
        values.len(),
        show(&before),
        show(&after),
        values.len() * 8 / 1024,
        health["retained_generations"].as_array().map_or(0, Vec::len),
    );
    eprintln!("{report}");

    assert_eq!(
        failures,
        0,
        "no call may fail during reloads; first: {:?}",
        calls.iter().find_map(|c| c.first_failure.clone())
    );
    assert_eq!(backwards, 0, "no thread may see the value go backwards");
    assert_eq!(version, b"1.0.0", "an even number of reloads ends on the v1 file");
    assert!(!values.is_empty(), "the threads made increments");
    assert!(values[0] == 1 || values[0] == 2, "the first increment adds 1 or 2, got {}", values[0]);
    assert!(
        steps.iter().all(|&s| s == 1 || s == 2),
        "every increment returns a distinct value 1 (v1) or 2 (v2) above the previous one: no increment is lost \
         or doubled across a hand-over"
    );
    assert_eq!(values.last(), Some(&final_value), "the final value is the sum of every increment's step");
    assert!(doubles > 0 && doubles < values.len(), "both versions served increments");
    assert_eq!(health["retained_generations"].as_array().map(Vec::len), Some(0), "no old generation retained");
    assert_eq!(folders, 1, "only the serving generation's shadow folder is left");
    assert_eq!(folders_after_unload, 0);
    assert_eq!(shadow_before.len(), 1, "one shadow file mapped before: {shadow_before:?}");
    assert_eq!(shadow_after.len(), 1, "only the serving generation's file is mapped after: {shadow_after:?}");
    if let (Some(b), Some(a)) = (before.mappings, after.mappings) {
        assert!(a <= b + MAPPING_SLACK, "mappings grew from {b} to {a} (allowed: {MAPPING_SLACK})");
    }
    if let (Some(b), Some(a)) = (before.open_fds, after.open_fds) {
        assert!(a <= b + FD_SLACK, "open fds grew from {b} to {a} (allowed: {FD_SLACK})");
    }
    if let (Some(b), Some(a)) = (before.threads, after.threads) {
        assert_eq!(a, b, "threads before and after (both with the {THREADS} callers running)");
    }
}
