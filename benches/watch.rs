//! From a finished build to the new generation serving: the time from the `rename` that puts a
//! new build of the release counter module in place to the new generation answering, with the
//! module's files watched (`Modules.Watch`, `DebounceMs` 50). Measured two ways in each round: by
//! the time the `plughost.module.reloaded` event is published, and by a caller polling `version`
//! until it answers the new version. The rounds alternate between version 1 and version 2, so each
//! one is a real change of the code; the event's own `ms` (from the last file event plughost
//! saw) is printed too.
//!
//! Run: `cargo bench --bench watch`. Target: the median <= debounce + 5 ms.

#[path = "../tests/support/mod.rs"]
mod support;

mod common;

use common::{format_ns, quantile};
use plughost::modules::RELOADED_TOPIC;
use plughost::Host;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::Sandbox;

const DEBOUNCE_MS: u64 = 50;

/// Sorted copy, for the quantiles.
fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

fn print(what: &str, values: &[f64]) {
    let s = sorted(values);
    println!(
        "{what:<44} median {:>10}  p10 {:>10}  p90 {:>10}  max {:>10}",
        format_ns(quantile(&s, 0.5)),
        format_ns(quantile(&s, 0.1)),
        format_ns(quantile(&s, 0.9)),
        format_ns(quantile(&s, 1.0))
    );
}

/// Put `source` in place of `target` the way a build does; returns the instant of the rename.
fn install_build(source: &Path, target: &Path) -> Instant {
    let partial = target.with_extension("partial");
    std::fs::copy(source, &partial).expect("copy the build");
    let renamed = Instant::now();
    std::fs::rename(&partial, target).expect("rename the build into place");
    renamed
}

fn main() {
    common::print_machine();
    let modules = support::rust_modules();
    let sandbox = Sandbox::new();
    let path = sandbox.install(&modules.counter, "counter");
    let config = sandbox.config(&format!(r#""Watch": {{"Enabled": true, "DebounceMs": {DEBOUNCE_MS}}}"#));
    let host = Host::from_json(&config).expect("host");
    host.set_log_level(2).expect("level");
    let id = host.load_module(&path).expect("load");
    let (sender, events) = mpsc::channel::<(Instant, f64)>();
    let sender = Mutex::new(sender);
    host.subscribe(
        RELOADED_TOPIC,
        Arc::new(move |event: &plughost::events::Event| {
            let at = Instant::now();
            let payload: serde_json::Value = serde_json::from_slice(&event.payload).expect("JSON");
            let _ = sender.lock().expect("sender").send((at, payload["ms"].as_f64().unwrap_or(f64::NAN)));
        }),
    )
    .expect("subscribe");

    let rounds = if common::measuring() { 20 } else { 2 };
    let (mut by_event, mut by_polling, mut reported) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (build, expected) =
            if round % 2 == 0 { (&modules.counter_v2, "2.0.0") } else { (&modules.counter, "1.0.0") };
        let renamed = install_build(build, &path);
        let serving = loop {
            if host.execute(id, "version", b"").expect("version") == expected.as_bytes() {
                break renamed.elapsed();
            }
            std::thread::sleep(Duration::from_micros(100));
        };
        let (at, ms) = events.recv_timeout(Duration::from_secs(30)).expect("the reloaded event");
        by_event.push(at.duration_since(renamed).as_nanos() as f64);
        by_polling.push(serving.as_nanos() as f64);
        reported.push(ms * 1e6);
        // Let the old generation's folder go and the machine settle before the next build.
        std::thread::sleep(Duration::from_millis(100));
    }

    println!("\nrename of a new build -> new generation serving ({rounds} rounds, DebounceMs {DEBOUNCE_MS}):");
    print("by the reloaded event", &by_event);
    print("by polling version (every 100 µs)", &by_polling);
    print("the event's ms (last file event -> serving)", &reported);
    let reloads = host.health().modules[0].reloads;
    assert_eq!(reloads, rounds, "one reload per build");
    println!("{reloads} reloads, one per build");
    if common::measuring() {
        let limit = (DEBOUNCE_MS + 5) as f64 * 1e6;
        common::target("rename -> serving (event), p50", quantile(&sorted(&by_event), 0.5), limit);
        common::target("rename -> serving (polling), p50", quantile(&sorted(&by_polling), 0.5), limit);
    }
}
