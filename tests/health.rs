//! The health monitor: probes, the bounded history, transitions and recovery outcomes on the
//! bus, recovery of a failed reload and of a crashed plugin (bounded by `MaxRetryAttempts`, reset
//! once healthy), a registered probe with its recovery, and the profile in health.

mod support;

use plughost::health::{Fault, Probe, ProbeResult, Status, Trigger};
use plughost::{ErrorKind, Host};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{fixtures, replace_file, Sandbox};

const PATIENCE: Duration = Duration::from_secs(20);

/// `sb`'s configuration with `health` as `PlugHost.Health` and `extra` merged into `PlugHost`.
fn config(sb: &Sandbox, health: serde_json::Value, extra: serde_json::Value) -> String {
    let mut c: serde_json::Value = serde_json::from_str(&sb.config("")).unwrap();
    let host = c["PlugHost"].as_object_mut().unwrap();
    host.insert("Health".into(), health);
    if let serde_json::Value::Object(extra) = extra {
        host.extend(extra);
    }
    c.to_string()
}

/// The health events (topic, payload) in the order published.
fn health_events(host: &Host) -> Receiver<(String, serde_json::Value)> {
    support::host_events(host, "plughost.health")
}

fn drain(events: &Receiver<(String, serde_json::Value)>) -> Vec<(String, serde_json::Value)> {
    events.try_iter().collect()
}

/// A check's results as (component, status).
fn probe(run: &plughost::health::CheckRun, component: &str) -> ProbeResult {
    run.probes.iter().find(|p| p.component == component).unwrap().result.clone()
}

#[test]
fn a_failed_reload_is_retried_up_to_the_limit_and_again_once_healthy() {
    let sb = Sandbox::new();
    let host = Host::from_json(&config(
        &sb,
        serde_json::json!({"IntervalMs": 3_600_000, "MaxRetryAttempts": 2}),
        serde_json::json!({}),
    ))
    .unwrap();
    let events = health_events(&host);
    let path = sb.install(&fixtures().counter, "counter");
    let id = host.load_module(&path).unwrap();

    let run = host.check_health().unwrap();
    assert_eq!((run.run, run.trigger, run.status), (1, Trigger::Request, Status::Healthy));
    let components: Vec<&str> = run.probes.iter().map(|p| p.component.as_str()).collect();
    assert_eq!(components, ["modules", "plugins", "python", "extensions", "ipc", "watch", "storage", "events"]);
    assert_eq!(probe(&run, "modules").detail, "1 module(s) loaded");

    replace_file(&fixtures().counter_broken, &path);
    host.reload_module(id, None).unwrap_err();
    let run = host.check_health().unwrap();
    assert_eq!(run.status, Status::Degraded);
    let modules = probe(&run, "modules");
    assert_eq!(modules.status, Status::Degraded);
    assert_eq!(modules.faults.len(), 1);
    assert_eq!(modules.faults[0].target, format!("counter#{}", id.0));
    let outcomes = |run: &plughost::health::CheckRun| -> Vec<(u32, &'static str)> {
        run.recoveries.iter().map(|r| (r.attempt, r.outcome)).collect()
    };
    assert_eq!(outcomes(&run), [(1, "failed")]);
    let seen = drain(&events);
    let topics: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(topics, ["plughost.health.transition", "plughost.health", "plughost.health.recovery"]);
    assert_eq!(seen[0].1["component"], "modules");
    assert_eq!((seen[0].1["from"].as_str(), seen[0].1["to"].as_str()), (Some("healthy"), Some("degraded")));
    assert_eq!(seen[1].1["status"], "degraded");
    assert!(seen[1].1["reasons"][0].as_str().unwrap().starts_with("modules: the latest reload of module"));
    assert_eq!((seen[2].1["outcome"].as_str(), seen[2].1["action"].as_str()), (Some("failed"), Some("retry reload")));

    assert_eq!(outcomes(&host.check_health().unwrap()), [(2, "failed")]);
    assert_eq!(outcomes(&host.check_health().unwrap()), [(2, "given_up")]);
    assert_eq!(outcomes(&host.check_health().unwrap()), []);
    let failures_now = host.health().modules[0].reload_failures;
    assert_eq!(failures_now, 3, "one by hand, two by recovery");

    // A good build reloaded by hand: healthy again, and the attempts start afresh.
    replace_file(&fixtures().counter_v2, &path);
    host.reload_module(id, None).unwrap();
    let run = host.check_health().unwrap();
    assert_eq!(run.status, Status::Healthy);
    let back = drain(&events).into_iter().rfind(|(t, _)| t == "plughost.health.transition").unwrap();
    assert_eq!((back.1["from"].as_str(), back.1["to"].as_str()), (Some("degraded"), Some("healthy")));
    replace_file(&fixtures().counter_broken, &path);
    host.reload_module(id, None).unwrap_err();
    assert_eq!(outcomes(&host.check_health().unwrap()), [(1, "failed")]);

    // The recovery's retry succeeds once the build is good again.
    replace_file(&fixtures().counter, &path);
    let run = host.check_health().unwrap();
    assert_eq!(outcomes(&run), [(2, "succeeded")]);
    let expected = format!("reloaded from {} as generation", path.display());
    assert!(run.recoveries[0].detail.starts_with(&expected), "{}", run.recoveries[0].detail);
    assert_eq!(host.execute(id, "version", b"").unwrap(), b"1.0.0");
    assert_eq!(host.check_health().unwrap().status, Status::Healthy);

    let history = host.health_history();
    assert_eq!(history.len(), 9);
    assert!(history.windows(2).all(|w| w[1].run == w[0].run + 1));
}

#[test]
fn the_monitor_checks_on_its_interval_and_keeps_a_bounded_history() {
    let sb = Sandbox::new();
    let host =
        Host::from_json(&config(&sb, serde_json::json!({"IntervalMs": 20, "HistorySize": 3}), serde_json::json!({})))
            .unwrap();
    let deadline = Instant::now() + PATIENCE;
    while host.health_history().last().map_or(0, |r| r.run) < 5 {
        assert!(Instant::now() < deadline, "the monitor ran 5 checks");
        std::thread::sleep(Duration::from_millis(10));
    }
    let history: serde_json::Value = serde_json::from_str(&host.health_history_json()).unwrap();
    let runs = history.as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r["trigger"] == "interval" && r["status"] == "healthy"), "{history}");
    assert_eq!(runs[0]["probes"][0]["component"], "modules");
    let numbers: Vec<u64> = runs.iter().map(|r| r["run"].as_u64().unwrap()).collect();
    assert!(numbers.windows(2).all(|w| w[1] > w[0]), "{numbers:?}");
    host.stop();
    assert_eq!(host.check_health().unwrap_err().kind(), ErrorKind::HostStopped);
}

/// A probe of a pretend component that recovery repairs on the `heal_on`th attempt.
struct Flaky {
    broken: AtomicBool,
    attempts: AtomicUsize,
    heal_on: usize,
}

impl Probe for Flaky {
    fn component(&self) -> &str {
        "pool"
    }

    fn check(&self, _host: &Host) -> ProbeResult {
        if self.broken.load(Ordering::SeqCst) {
            let fault = Fault { target: "worker 3".into(), action: "recycle", reason: "stuck for 40 s".into() };
            ProbeResult::from_problems(String::new(), vec![(Status::Unhealthy, "worker 3 stuck".into())], vec![fault])
        } else {
            ProbeResult::healthy("4 workers")
        }
    }

    fn recover(&self, _host: &Host, fault: &Fault) -> plughost::Result<String> {
        assert_eq!(fault.target, "worker 3");
        if self.attempts.fetch_add(1, Ordering::SeqCst) + 1 == self.heal_on {
            self.broken.store(false, Ordering::SeqCst);
            Ok("recycled".into())
        } else {
            Err(plughost::Error::new(ErrorKind::Timeout, "the worker did not stop"))
        }
    }
}

#[test]
fn a_registered_probe_is_checked_and_recovered() {
    let sb = Sandbox::new();
    let host =
        Host::from_json(&config(&sb, serde_json::json!({"IntervalMs": 3_600_000}), serde_json::json!({}))).unwrap();
    let events = health_events(&host);
    let logs = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = logs.clone();
    host.set_log_callback(Some(Arc::new(move |level: u32, _target: &str, message: &str| {
        if message.contains("pool") {
            sink.lock().unwrap().push((level, message.to_owned()));
        }
    })));
    let flaky = Arc::new(Flaky { broken: AtomicBool::new(true), attempts: AtomicUsize::new(0), heal_on: 2 });
    let id = host.register_probe(flaky.clone()).unwrap();
    assert_eq!(host.register_probe(flaky.clone()).unwrap_err().kind(), ErrorKind::InvalidArgument);

    let health = host.health();
    assert_eq!(health.status, Status::Unhealthy, "the report runs the probes too");
    assert_eq!(health.reasons, ["pool: worker 3 stuck"]);
    let run = host.check_health().unwrap();
    assert_eq!(run.recoveries[0].outcome, "failed");
    assert_eq!(run.recoveries[0].detail, "the worker did not stop");
    let run = host.check_health().unwrap();
    assert_eq!((run.recoveries[0].attempt, run.recoveries[0].outcome), (2, "succeeded"));
    let run = host.check_health().unwrap();
    assert_eq!(run.status, Status::Healthy);
    assert!(run.recoveries.is_empty());
    let topics: Vec<String> = drain(&events)
        .into_iter()
        .filter(|(t, p)| t == "plughost.health.recovery" || p["component"] == "pool")
        .map(|(t, p)| format!("{t} {}", p["outcome"].as_str().or(p["to"].as_str()).unwrap()))
        .collect();
    assert_eq!(
        topics,
        [
            "plughost.health.transition unhealthy",
            "plughost.health.recovery failed",
            "plughost.health.recovery succeeded",
            "plughost.health.transition healthy"
        ]
    );
    host.set_log_callback(None);
    let logs: Vec<(u32, String)> = logs.lock().unwrap().clone();
    let logged = |level: u32, text: &str| logs.iter().any(|(l, m)| *l == level && m.contains(text));
    assert!(logged(2, "component status changed") && logged(2, "to=Unhealthy"), "{logs:?}");
    assert!(logged(3, "component status changed") && logged(3, "to=Healthy"), "{logs:?}");
    assert!(logged(2, "health recovery did not succeed") && logged(3, "health recovery succeeded"), "{logs:?}");
    host.unregister_probe(id).unwrap();
    assert_eq!(host.unregister_probe(id).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert!(host.check_health().unwrap().probes.iter().all(|p| p.component != "pool"));
}

#[test]
fn recovery_off_only_reports() {
    let sb = Sandbox::new();
    let host = Host::from_json(&config(
        &sb,
        serde_json::json!({"IntervalMs": 3_600_000, "Recovery": false}),
        serde_json::json!({}),
    ))
    .unwrap();
    let flaky = Arc::new(Flaky { broken: AtomicBool::new(true), attempts: AtomicUsize::new(0), heal_on: 1 });
    host.register_probe(flaky.clone()).unwrap();
    for _ in 0..3 {
        let run = host.check_health().unwrap();
        assert_eq!(run.status, Status::Unhealthy);
        assert!(run.recoveries.is_empty());
    }
    assert_eq!(flaky.attempts.load(Ordering::SeqCst), 0);
}

#[cfg(target_os = "linux")]
#[test]
fn a_crashed_plugin_is_started_again_and_a_hopeless_one_is_given_up() {
    let sb = Sandbox::new();
    let analytics = support::rust_plugins().analytics.display().to_string();
    let plugins = serde_json::json!({"Declared": [
        {"Name": "analytics", "Path": analytics, "MaxRestarts": 0},
        {"Name": "ghost", "Path": "/no/such/program", "Restart": "never"}]});
    let host = Host::from_json(&config(
        &sb,
        serde_json::json!({"IntervalMs": 3_600_000, "MaxRetryAttempts": 1}),
        serde_json::json!({"Plugins": plugins}),
    ))
    .unwrap();
    let pid = |host: &Host| host.plugins().iter().find(|p| p.name == "analytics").and_then(|p| p.pid);
    let first = pid(&host).expect("analytics runs");
    std::process::Command::new("kill").args(["-9", &first.to_string()]).status().unwrap();
    let deadline = Instant::now() + PATIENCE;
    while host.plugin_state("analytics").unwrap().name() != "crashed" {
        assert!(Instant::now() < deadline, "the supervisor gave up on analytics");
        std::thread::sleep(Duration::from_millis(5));
    }
    let run = host.check_health().unwrap();
    let plugins = probe(&run, "plugins");
    assert_eq!(plugins.status, Status::Degraded);
    let targets: Vec<&str> = plugins.faults.iter().map(|f| f.target.as_str()).collect();
    assert_eq!(targets, ["analytics", "ghost"]);
    let outcomes: Vec<(&str, &str)> = run.recoveries.iter().map(|r| (r.target.as_str(), r.outcome)).collect();
    assert_eq!(outcomes, [("analytics", "succeeded"), ("ghost", "failed")]);
    assert!(run.recoveries[1].detail.contains("/no/such/program"), "{}", run.recoveries[1].detail);
    assert_eq!(host.plugin_state("analytics").unwrap().name(), "running");
    assert_ne!(pid(&host), Some(first));

    let run = host.check_health().unwrap();
    let outcomes: Vec<(&str, &str)> = run.recoveries.iter().map(|r| (r.target.as_str(), r.outcome)).collect();
    assert_eq!(outcomes, [("ghost", "given_up")]);
    assert!(host.check_health().unwrap().recoveries.is_empty());
}

#[test]
fn health_names_the_profile() {
    let host = Host::from_json(r#"{"PlugHost": {"Profile": "production", "Logging": {"Level": "warn"}}}"#).unwrap();
    let health: serde_json::Value = serde_json::from_str(&host.health_json()).unwrap();
    assert_eq!(health["profile"], "production");
    assert!(!host.watching());
    let host = Host::from_json(r#"{"PlugHost": {"Profile": "development", "Logging": {"Level": "warn"}}}"#).unwrap();
    assert!(host.watching(), "the development profile watches module files");
    assert_eq!(host.health().profile, Some("development"));
    let host = Host::from_json("").unwrap();
    let health: serde_json::Value = serde_json::from_str(&host.health_json()).unwrap();
    assert!(health["profile"].is_null());
}

#[test]
fn storage_watch_and_events_probes_report_their_figures() {
    let sb = Sandbox::new();
    let host = Host::from_json(&config(
        &sb,
        serde_json::json!({"IntervalMs": 3_600_000}),
        serde_json::json!({"Storage": {"MaxBytes": 100}}),
    ))
    .unwrap();
    let run = host.check_health().unwrap();
    assert_eq!(probe(&run, "storage").detail, "0 key(s), 0 of 100 bytes");
    assert_eq!(probe(&run, "watch").detail, "not watching");
    assert_eq!(probe(&run, "ipc").detail, "0 plugin session(s) open");
    let events = probe(&run, "events");
    assert_eq!(
        (events.status, events.detail.as_str()),
        (Status::Healthy, "0 subscription(s), 0 topic(s) with history")
    );

    host.storage_set("k", &[0; 90]).unwrap();
    let path = sb.install(&fixtures().counter, "counter");
    host.load_module(&path).unwrap();
    host.set_watching(true).unwrap();
    let run = host.check_health().unwrap();
    let storage = probe(&run, "storage");
    assert_eq!((storage.status, storage.detail.as_str()), (Status::Degraded, "storage is 91 of 100 bytes full"));
    assert_eq!(probe(&run, "watch").detail, "watching 1 folder(s)");
    assert_eq!(run.status, Status::Degraded);
    assert!(run.recoveries.is_empty(), "storage has no recovery");
    assert_eq!(host.health().reasons, ["storage: storage is 91 of 100 bytes full"]);
}
