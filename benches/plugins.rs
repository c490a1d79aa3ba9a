//! Plugins: call latency (p50 and p99 of single calls) and crash recovery.
//!
//! The bench re-executes itself as the plugin (a `plughost::plugin::Plugin` with the commands
//! `echo` and `abort`) and as a bare session peer (an echo service over `Session`, no supervisor),
//! so the supervisor's cost shows against the transport it runs on, in the same run.
//!
//! - Call latency: 32-byte `echo` calls one after another through `Host::call_plugin`, against
//!   the same call through a bare `Session::call` to the bare peer. Every call is timed alone.
//! - Crash recovery, repeated: the `abort` command makes the plugin abort itself; *detected* is the
//!   time from sending that call to the supervisor's state change to `restarting` (the waiter saw
//!   the process end), *serving again* the time from sending it to the first `echo` answered by
//!   the new process. `BackoffMs` is 0 here and the default (50) in a second case;
//!   `RestartWindowMs` is 1, so that every crash is the first of its window (in a crash loop the
//!   backoff doubles). The seed's heartbeat needed 1 s to notice a dead plugin.
//!
//! Run: `cargo bench --bench plugins`. Targets: detected <= 50 ms, serving again <= 200 ms.

mod common;

use plughost::config::IpcSettings;
use plughost::ipc::session::Session;
use plughost::plugin::{Plugin, PluginError, PluginHost};
use plughost::plugins::PluginState;
use plughost::Host;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PEER_ENV: &str = "PLUGHOST_BENCH_PLUGIN_PEER";
/// Calls per block of the latency measurement.
const BLOCK: usize = 1000;

struct Echo;

impl Plugin for Echo {
    fn process(&self, _: &PluginHost, command: &str, input: &[u8]) -> Result<Vec<u8>, PluginError> {
        match command {
            "echo" => Ok(input.to_vec()),
            "abort" => std::process::abort(),
            other => Err(PluginError::new(format!("no command {other}"))),
        }
    }
}

/// The bare peer: an echo service over a session, serving until the parent goes.
fn bare_peer() {
    let ipc = IpcSettings::default();
    let session = Session::attach_from_env_with(&ipc.geometry, ipc.session).expect("attach");
    session.register("bench", |_, payload| Ok(payload.to_vec()));
    while session.serve(Instant::now() + Duration::from_secs(1)).is_ok() {}
}

fn quantiles(mut samples: Vec<f64>) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    (common::quantile(&samples, 0.5), common::quantile(&samples, 0.99), common::quantile(&samples, 0.1))
}

fn host(backoff_ms: u64) -> Arc<Host> {
    let exe = std::env::current_exe().expect("the bench knows its executable");
    let config = serde_json::json!({"PlugHost": {"Plugins": {"Declared": [
        {"Name": "bench", "Path": exe, "MaxRestarts": 1000, "RestartWindowMs": 1, "BackoffMs": backoff_ms}
    ]}}});
    Host::from_json(&config.to_string()).expect("host")
}

fn latency(calls: usize) {
    let host = host(50);
    let (session, handoff) = Session::create(&IpcSettings::default().geometry).expect("session");
    let mut peer = std::process::Command::new(std::env::current_exe().expect("exe"));
    peer.env(PEER_ENV, "1");
    let mut child = handoff.spawn(&mut peer).expect("bare peer");
    let payload = [7u8; 32];
    let long = Duration::from_secs(10);
    for _ in 0..calls / 10 {
        host.call_plugin("bench", "echo", &payload, None).expect("warm-up");
        session.call("bench", "echo", &payload, long).expect("warm-up");
    }
    // Blocks of back-to-back calls, alternating between the two, so that each peer stays busy
    // within a block (calls interleaved one by one would make each peer park between its calls).
    let (mut plugin, mut bare) = (Vec::with_capacity(calls), Vec::with_capacity(calls));
    for _ in 0..calls / BLOCK {
        for _ in 0..BLOCK {
            let started = Instant::now();
            host.call_plugin("bench", "echo", &payload, None).expect("plugin call");
            plugin.push(started.elapsed().as_nanos() as f64);
        }
        for _ in 0..BLOCK {
            let started = Instant::now();
            session.call("bench", "echo", &payload, long).expect("session call");
            bare.push(started.elapsed().as_nanos() as f64);
        }
    }
    drop(session);
    let _ = child.wait();
    let (p50, p99, p10) = quantiles(plugin);
    let (b50, b99, b10) = quantiles(bare);
    println!("\n== call latency, 32 + 32 bytes, {calls} single calls each, in alternating blocks of {BLOCK}");
    println!("case                               p50          p10          p99    p50 ratio");
    println!(
        "plugin call (Host::call_plugin) {:>12} {:>12} {:>12} {:>8.2}x",
        common::format_ns(p50),
        common::format_ns(p10),
        common::format_ns(p99),
        p50 / b50
    );
    println!(
        "bare session call               {:>12} {:>12} {:>12}        -",
        common::format_ns(b50),
        common::format_ns(b10),
        common::format_ns(b99)
    );
}

fn recovery(rounds: usize, backoff_ms: u64) {
    let host = host(backoff_ms);
    let restarting: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let seen = restarting.clone();
    host.subscribe_plugin_states(Arc::new(move |_, _, to, _| {
        if to == PluginState::Restarting {
            seen.lock().expect("lock").get_or_insert(Instant::now());
        }
    }))
    .expect("subscribe");
    let (mut detected, mut serving) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        host.call_plugin("bench", "echo", b"ready", None).expect("running");
        *restarting.lock().expect("lock") = None;
        let sent = Instant::now();
        let crashed = host.call_plugin("bench", "abort", b"", None);
        assert!(crashed.is_err(), "the abort call fails");
        host.call_plugin("bench", "echo", b"back", Some(Duration::from_secs(10))).expect("serving again");
        serving.push(sent.elapsed().as_nanos() as f64);
        let at = restarting.lock().expect("lock").expect("the restart was seen");
        detected.push(at.duration_since(sent).as_nanos() as f64);
    }
    let (d50, d99, _) = quantiles(detected);
    let (s50, s99, _) = quantiles(serving);
    println!("\n== crash recovery, BackoffMs {backoff_ms}, {rounds} crashes (abort in the middle of a call)");
    println!(
        "detected       p50 {:>10}   p99 {:>10}   ({:.0}x faster than the seed's 1 s heartbeat)",
        common::format_ns(d50),
        common::format_ns(d99),
        1e9 / d50
    );
    println!("serving again  p50 {:>10}   p99 {:>10}", common::format_ns(s50), common::format_ns(s99));
    common::target(&format!("crash detected, BackoffMs {backoff_ms}"), d50, 50e6);
    common::target(&format!("serving again, BackoffMs {backoff_ms}"), s50, 200e6);
}

fn main() -> std::process::ExitCode {
    if std::env::var_os(plughost::plugins::protocol::NAME_ENV).is_some() {
        return plughost::plugin::run(Echo);
    }
    if std::env::var_os(PEER_ENV).is_some() {
        bare_peer();
        return std::process::ExitCode::SUCCESS;
    }
    common::print_machine();
    let measuring = common::measuring();
    latency(if measuring { 20 * BLOCK } else { BLOCK });
    recovery(if measuring { 30 } else { 2 }, 0);
    recovery(if measuring { 30 } else { 2 }, 50);
    std::process::ExitCode::SUCCESS
}
