//! Watching module files: a rebuild is reloaded under load, a half-written file is retried, a
//! broken build rolls back, watching switches off and on, a sibling library triggers a reload,
//! and unload and stop end the watch.

mod support;

use plughost::modules::{RELOADED_TOPIC, RELOADING_TOPIC, ROLLED_BACK_TOPIC};
use plughost::{ErrorKind, Host};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{fixtures, replace_file, Sandbox};

/// Long enough for any reload on a loaded machine; a passing test waits far less.
const PATIENCE: Duration = Duration::from_secs(20);
/// How long "nothing happens" is watched for: several debounce times.
const QUIET: Duration = Duration::from_millis(400);

/// A host with the watch settings `enabled` and a short debounce, its watcher's events, and the
/// counter module installed in its sandbox and loaded.
struct Watched {
    sb: Sandbox,
    h: Arc<Host>,
    outcomes: Outcomes,
    path: std::path::PathBuf,
    id: plughost::modules::ModuleId,
}

fn watched(enabled: bool) -> Watched {
    let watch = format!(r#""Watch": {{"Enabled": {enabled}, "DebounceMs": 50, "RetryMs": 20, "RetryLimitMs": 3000}}"#);
    watched_with(&watch)
}

fn watched_with(watch: &str) -> Watched {
    let sb = Sandbox::new();
    let h = Host::from_json(&sb.config(watch)).unwrap();
    let outcomes = Outcomes::new(&h);
    let path = sb.install(&fixtures().counter, "counter");
    let id = h.load_module(&path).unwrap();
    Watched { sb, h, outcomes, path, id }
}

fn version(host: &Host, id: plughost::modules::ModuleId) -> String {
    String::from_utf8(host.execute(id, "version", b"").unwrap()).unwrap()
}

/// The watcher's events (topic and parsed payload), in the order they were published.
struct Outcomes {
    receiver: Receiver<(String, serde_json::Value)>,
}

impl Outcomes {
    fn new(host: &Host) -> Self {
        Outcomes { receiver: support::host_events(host, "plughost.module.") }
    }

    /// The next event; fails the test if none comes in time.
    fn next(&self) -> (String, serde_json::Value) {
        self.receiver.recv_timeout(PATIENCE).expect("a watcher event in time")
    }

    /// The next event, which must be on `topic`; its payload.
    fn expect(&self, topic: &str) -> serde_json::Value {
        let (got, payload) = self.next();
        assert_eq!(got, topic, "{payload}");
        payload
    }

    /// Every event within `span`.
    fn during(&self, span: Duration) -> Vec<(String, serde_json::Value)> {
        let end = Instant::now() + span;
        let mut seen = Vec::new();
        while let Ok(event) = self.receiver.recv_timeout(end.saturating_duration_since(Instant::now())) {
            seen.push(event);
        }
        seen
    }
}

#[test]
fn a_rebuild_is_reloaded_while_four_threads_call() {
    let f = fixtures();
    let Watched { sb: _sb, h, outcomes, path, id } = watched(true);
    assert!(h.watching());
    h.execute(id, "increment", b"41").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (calls, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let (h, stop, calls, failures) = (h.clone(), stop.clone(), calls.clone(), failures.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if h.execute(id, "get", b"").is_err() {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    calls.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    replace_file(&f.counter_v2, &path);
    let reloading = outcomes.expect(RELOADING_TOPIC);
    assert_eq!(reloading["module"], "counter");
    assert_eq!(reloading["id"], id.0);
    assert_eq!(reloading["path"], std::fs::canonicalize(&path).unwrap().display().to_string());
    let reloaded = outcomes.expect(RELOADED_TOPIC);
    assert_eq!(reloaded["generation"], 2);
    assert!(reloaded["ms"].as_f64().unwrap() >= 50.0, "not before the debounce: {reloaded}");
    std::thread::sleep(Duration::from_millis(20));
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.join().unwrap();
    }
    assert_eq!(failures.load(Ordering::Relaxed), 0, "of {} calls", calls.load(Ordering::Relaxed));
    assert_eq!(version(&h, id), "2.0.0");
    assert_eq!(h.execute(id, "get", b"").unwrap(), b"41", "state handed over");
    assert!(outcomes.during(QUIET).is_empty(), "one rebuild, one reload");
}

#[test]
fn a_half_written_file_is_retried_until_complete() {
    let f = fixtures();
    let Watched { sb: _sb, h, outcomes, path, id } = watched(true);
    let bytes = std::fs::read(&f.counter_v2).unwrap();
    let (first, rest) = bytes.split_at(bytes.len() / 2);
    std::fs::write(&path, first).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(version(&h, id), "1.0.0", "the old generation serves meanwhile");
    std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(rest).unwrap();
    let mut seen = vec![outcomes.next()];
    seen.extend(outcomes.during(QUIET));
    let topics: Vec<&str> = seen.iter().map(|(topic, _)| topic.as_str()).collect();
    assert_eq!(topics, [RELOADING_TOPIC, RELOADED_TOPIC], "{seen:?}");
    assert_eq!(seen[1].1["generation"], 2);
    assert_eq!(version(&h, id), "2.0.0");
    let health = h.health();
    assert_eq!(
        (health.modules[0].reloads, health.modules[0].reload_failures),
        (1, 0),
        "the half file never reached a reload"
    );
}

#[test]
fn an_event_that_leaves_the_loaded_files_as_they_were_reloads_nothing() {
    let f = fixtures();
    let Watched { sb: _sb, h, outcomes, path, id } = watched(true);
    replace_file(&f.counter_v2, &path);
    outcomes.expect(RELOADING_TOPIC);
    outcomes.expect(RELOADED_TOPIC);
    // Opened for writing and closed, with nothing written (as the last step of a write that a
    // retry already loaded): a file event, but the files are as they were loaded.
    drop(std::fs::OpenOptions::new().append(true).open(&path).unwrap());
    assert!(outcomes.during(QUIET).is_empty(), "nothing to reload");
    assert_eq!(version(&h, id), "2.0.0");
    assert_eq!(h.health().modules[0].reloads, 1);
}

#[test]
fn a_broken_build_rolls_back_and_the_old_generation_keeps_serving() {
    let f = fixtures();
    let Watched { sb: _sb, h, outcomes, path, id } = watched(true);
    replace_file(&f.counter_broken, &path);
    outcomes.expect(RELOADING_TOPIC);
    let rolled_back = outcomes.expect(ROLLED_BACK_TOPIC);
    assert_eq!(rolled_back["module"], "counter");
    assert!(rolled_back["reason"].as_str().unwrap().contains("init refuses"), "{rolled_back}");
    assert_eq!(version(&h, id), "1.0.0");
    // The next good build is reloaded.
    replace_file(&f.counter_v2, &path);
    outcomes.expect(RELOADING_TOPIC);
    outcomes.expect(RELOADED_TOPIC);
    assert_eq!(version(&h, id), "2.0.0");
}

#[test]
fn a_file_that_stays_incomplete_rolls_back_after_the_retry_limit() {
    let f = fixtures();
    let watch = r#""Watch": {"Enabled": true, "DebounceMs": 20, "RetryMs": 20, "RetryLimitMs": 200}"#;
    let Watched { sb: _sb, h, outcomes, path, id } = watched_with(watch);
    let bytes = std::fs::read(&f.counter_v2).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
    outcomes.expect(RELOADING_TOPIC);
    let rolled_back = outcomes.expect(ROLLED_BACK_TOPIC);
    let reason = rolled_back["reason"].as_str().unwrap();
    assert!(reason.contains("not a complete library") && reason.contains("of retries"), "{reason}");
    assert_eq!(version(&h, id), "1.0.0");
}

#[test]
fn watching_off_ignores_changes_and_on_again_reloads() {
    let f = fixtures();
    let Watched { sb: _sb, h, outcomes, path, id } = watched(false);
    assert!(!h.watching());
    replace_file(&f.counter_v2, &path);
    assert!(outcomes.during(QUIET).is_empty());
    assert_eq!(version(&h, id), "1.0.0");

    h.set_watching(true).unwrap();
    h.set_watching(true).unwrap();
    assert!(h.watching());
    replace_file(&f.counter_v2, &path);
    outcomes.expect(RELOADING_TOPIC);
    outcomes.expect(RELOADED_TOPIC);
    assert_eq!(version(&h, id), "2.0.0");

    h.set_watching(false).unwrap();
    assert!(!h.watching());
    replace_file(&f.counter, &path);
    assert!(outcomes.during(QUIET).is_empty());
    assert_eq!(version(&h, id), "2.0.0");
}

#[test]
fn a_changed_sibling_library_reloads_the_module() {
    let Watched { sb: _sb, h, outcomes, path, id } = watched(true);
    let folder = path.parent().unwrap();
    std::fs::write(folder.join("notes.txt"), b"not a library").unwrap();
    assert!(outcomes.during(QUIET).is_empty(), "other files are not watched");
    let dependency = folder.join(format!("libdep{}", std::env::consts::DLL_SUFFIX));
    std::fs::write(&dependency, b"a dependency's new build").unwrap();
    outcomes.expect(RELOADING_TOPIC);
    assert_eq!(outcomes.expect(RELOADED_TOPIC)["generation"], 2);
    assert_eq!(version(&h, id), "1.0.0");
}

#[test]
fn unload_and_stop_end_the_watch() {
    let f = fixtures();
    let Watched { sb, h, outcomes, path, id } = watched(true);
    let other = sb.install(&f.counter, "other");
    let kept = h.load_module(&other).unwrap();
    h.unload_module(id).unwrap();
    replace_file(&f.counter_v2, &path);
    assert!(outcomes.during(QUIET).is_empty(), "an unloaded module is not watched");
    replace_file(&f.counter_v2, &other);
    assert_eq!(outcomes.expect(RELOADING_TOPIC)["id"], kept.0);
    outcomes.expect(RELOADED_TOPIC);
    h.stop();
    assert!(!h.watching());
    assert_eq!(h.set_watching(true).unwrap_err().kind(), ErrorKind::HostStopped);
}
