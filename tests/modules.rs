//! Work modules through the Rust API: load, execute, reload with state hand-over and rollback,
//! unload, every load error, trust, stale ids, pinned generations, host services, health.

mod support;

use plughost::services::ServiceThreading;
use plughost::{ErrorKind, Host};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use support::{fixtures, replace_file, Sandbox};

fn host(sandbox: &Sandbox, extra: &str) -> Arc<Host> {
    Host::from_json(&sandbox.config(extra)).unwrap()
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

#[test]
fn load_execute_unload_rust_module() {
    let f = fixtures();
    let sb = Sandbox::new();
    let h = host(&sb, "");
    let id = h.load_module(&sb.install(&f.counter, "counter")).unwrap();
    assert_eq!(text(h.execute(id, "version", b"").unwrap()), "1.0.0");
    assert_eq!(text(h.execute(id, "increment", b"5").unwrap()), "5");
    assert_eq!(text(h.execute(id, "echo", "grüße".as_bytes()).unwrap()), "grüße");
    assert_eq!(sb.shadow_folders(), 1);
    h.unload_module(id).unwrap();
    assert_eq!(sb.shadow_folders(), 0, "shadow folder removed once unmapped");
    assert_eq!(h.execute(id, "get", b"").unwrap_err().kind(), ErrorKind::InvalidHandle);
    assert_eq!(h.unload_module(id).unwrap_err().kind(), ErrorKind::InvalidHandle, "double unload");
}

#[test]
fn command_errors_are_distinct() {
    let f = fixtures();
    let sb = Sandbox::new();
    let h = host(&sb, "");
    let id = h.load_module(&sb.install(&f.counter, "counter")).unwrap();
    let e = h.execute(id, "nope", b"").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ModuleUnknownCommand);
    assert!(e.message().contains("\"nope\""), "{}", e.message());
    let e = h.execute(id, "fail", b"").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ModuleFailed);
    assert_eq!(e.message(), "failure requested by the caller");
    let e = h.execute(id, "panic", b"").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ModulePanicked);
    assert!(e.message().contains("panic requested by the caller"), "{}", e.message());
    assert_eq!(text(h.execute(id, "increment", b"").unwrap()), "1", "the module still serves after a panic");
}

#[test]
fn reload_hands_state_over_and_swaps_version() {
    let f = fixtures();
    let sb = Sandbox::new();
    let h = host(&sb, "");
    let path = sb.install(&f.counter, "counter");
    let id = h.load_module(&path).unwrap();
    h.execute(id, "increment", b"41").unwrap();
    replace_file(&f.counter_v2, &path);
    assert_eq!(h.reload_module(id, None).unwrap(), 2);
    assert_eq!(text(h.execute(id, "version", b"").unwrap()), "2.0.0");
    assert_eq!(text(h.execute(id, "get", b"").unwrap()), "41", "state handed over");
    assert_eq!(text(h.execute(id, "increment", b"1").unwrap()), "43", "v2 adds twice");
    assert_eq!(sb.shadow_folders(), 1, "the old generation's folder is gone");
    let health: serde_json::Value = serde_json::from_str(&h.health_json()).unwrap();
    let m = &health["modules"][0];
    assert_eq!(m["generation"], 2);
    assert_eq!(m["reloads"], 1);
    assert_eq!(m["loads"], 2);
    assert!(m["last"]["reload_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn reload_from_another_path_and_c_module_state() {
    let f = fixtures();
    let sb = Sandbox::new();
    let h = host(&sb, "");
    let id = h.load_module(&sb.install(&f.greeter, "greeter")).unwrap();
    assert_eq!(text(h.execute(id, "greet", b"Ada").unwrap()), "Hello, Ada!");
    h.execute(id, "count", b"").unwrap();
    let v2 = sb.install(&f.greeter_v2, "greeter_v2");
    h.reload_module(id, Some(&v2)).unwrap();
    assert_eq!(text(h.execute(id, "greet", b"Ada").unwrap()), "Good day, Ada!");
    assert_eq!(text(h.execute(id, "count", b"").unwrap()), "4", "the count went across the reload");
    let e = h.execute(id, "fail", b"").unwrap_err();
    assert_eq!((e.kind(), e.message()), (ErrorKind::ModuleFailed, "greeter was asked to fail"));
}

#[test]
fn failed_reload_rolls_back_to_the_serving_generation() {
    let f = fixtures();
    let sb = Sandbox::new();
    let h = host(&sb, "");
    let path = sb.install(&f.counter, "counter");
    let id = h.load_module(&path).unwrap();
    h.execute(id, "increment", b"7").unwrap();
    let broken = sb.install(&f.counter_broken, "broken");
    let e = h.reload_module(id, Some(&broken)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ModuleInitFailed);
    assert!(e.message().contains("init refuses"), "{}", e.message());
    let garbage = sb.root().join("garbage.so");
    std::fs::write(&garbage, b"\x7fELF but not really").unwrap();
    assert_eq!(h.reload_module(id, Some(&garbage)).unwrap_err().kind(), ErrorKind::ModuleNotLoadable);
    assert_eq!(text(h.execute(id, "get", b"").unwrap()), "7", "generation 1 keeps serving with its state");
    assert_eq!(text(h.execute(id, "version", b"").unwrap()), "1.0.0");
    assert_eq!(sb.shadow_folders(), 1, "failed generations leave no folder");
    let health: serde_json::Value = serde_json::from_str(&h.health_json()).unwrap();
    assert_eq!(health["modules"][0]["reload_failures"], 2);
    assert_eq!(health["modules"][0]["generation"], 1);
}

#[test]
fn failed_state_hand_over_rolls_back() {
    let f = fixtures();
    let sb = Sandbox::new();
    let h = host(&sb, "");
    let id = h.load_module(&sb.install(&f.restore_fails, "restore_fails")).unwrap();
    let e = h.reload_module(id, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ModuleStateTransfer);
    assert!(e.message().contains("state format changed"), "{}", e.message());
    assert!(e.message().contains("generation 1 keeps serving"), "{}", e.message());
    assert!(h.execute(id, "anything", b"").is_ok(), "generation 1 serves again");
    assert_eq!(h.health().modules[0].generation, 1);
    assert_eq!(sb.shadow_folders(), 1);
}

#[test]
fn every_load_error_has_its_status() {
    let f = fixtures();
    let sb = Sandbox::new();
    let h = host(&sb, "");
    let kind = |p: &std::path::Path| h.load_module(p).unwrap_err().kind();
    assert_eq!(kind(&sb.root().join("missing.so")), ErrorKind::ModuleNotFound);
    let truncated = sb.root().join("truncated.so");
    let bytes = std::fs::read(&f.greeter).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    assert_eq!(kind(&truncated), ErrorKind::ModuleNotLoadable);
    let text_file = sb.root().join("notes.so");
    std::fs::write(&text_file, b"not a library").unwrap();
    assert_eq!(kind(&text_file), ErrorKind::ModuleNotLoadable);
    assert_eq!(kind(&sb.install(&f.no_entry, "no_entry")), ErrorKind::ModuleEntryMissing);
    assert_eq!(kind(&sb.install(&f.abi_mismatch, "abi")), ErrorKind::ModuleAbiMismatch);
    assert_eq!(kind(&sb.install(&f.short_table, "short")), ErrorKind::ModuleAbiMismatch);
    assert_eq!(kind(&sb.install(&f.null_entry, "null_entry")), ErrorKind::ModuleAbiMismatch);
    assert_eq!(kind(&sb.install(&f.missing_execute, "missing_exec")), ErrorKind::ModuleAbiMismatch);
    let e = h.load_module(&sb.install(&f.init_fails, "init_fails")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ModuleInitFailed);
    assert!(e.message().contains("cannot reach the licence server"), "{}", e.message());
    std::fs::copy(&f.counter, sb.outside().join("libcounter.so")).unwrap();
    assert_eq!(kind(&sb.outside().join("libcounter.so")), ErrorKind::ModulePathNotTrusted);
    assert_eq!(kind(&sb.root().join("../outside/libcounter.so")), ErrorKind::ModulePathNotTrusted);
    std::os::unix::fs::symlink(sb.outside().join("libcounter.so"), sb.root().join("link.so")).unwrap();
    assert_eq!(kind(&sb.root().join("link.so")), ErrorKind::ModulePathNotTrusted);
    assert_eq!(sb.shadow_folders(), 0, "no failed load leaves a shadow folder");
}

#[test]
fn original_file_can_be_replaced_while_loaded() {
    let f = fixtures();
    let sb = Sandbox::new();
    let h = host(&sb, "");
    let path = sb.install(&f.counter, "counter");
    let id = h.load_module(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, b"overwritten in place").unwrap();
    assert_eq!(text(h.execute(id, "version", b"").unwrap()), "1.0.0", "runs from its shadow copy");
}

#[test]
fn slot_reuse_keeps_old_ids_stale() {
    let f = fixtures();
    let sb = Sandbox::new();
    let h = host(&sb, r#""MaxModules": 1"#);
    let path = sb.install(&f.greeter, "greeter");
    let first = h.load_module(&path).unwrap();
    assert_eq!(h.load_module(&path).unwrap_err().kind(), ErrorKind::LimitReached);
    h.unload_module(first).unwrap();
    let second = h.load_module(&path).unwrap();
    assert_ne!(first, second);
    assert_eq!(h.execute(first, "count", b"").unwrap_err().kind(), ErrorKind::InvalidHandle);
    assert_eq!(h.reload_module(first, None).unwrap_err().kind(), ErrorKind::InvalidHandle);
    assert_eq!(h.execute(plughost::modules::ModuleId(0), "count", b"").unwrap_err().kind(), ErrorKind::InvalidHandle);
    assert_eq!(
        h.execute(plughost::modules::ModuleId(u64::MAX), "count", b"").unwrap_err().kind(),
        ErrorKind::InvalidHandle
    );
    assert!(h.execute(second, "count", b"").is_ok());
}

#[test]
fn drain_timeout_on_unload_keeps_library_until_calls_finish() {
    let f = fixtures();
    let sb = Sandbox::new();
    let h = host(&sb, r#""UnloadTimeoutMs": 50"#);
    let id = h.load_module(&sb.install(&f.counter, "counter")).unwrap();
    let h2 = h.clone();
    let slow = std::thread::spawn(move || h2.execute(id, "sleep", b"400"));
    while serde_json::from_str::<serde_json::Value>(&h.health_json()).unwrap()["modules"][0]["in_flight"] != 1 {
        std::thread::yield_now();
    }
    let e = h.unload_module(id).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ModuleDrainTimeout);
    let health: serde_json::Value = serde_json::from_str(&h.health_json()).unwrap();
    assert_eq!(health["retained_generations"][0]["reason"], "draining");
    assert_eq!(health["status"], "degraded");
    assert!(slow.join().unwrap().is_ok(), "the in-flight call completes");
    h.maintain();
    let health: serde_json::Value = serde_json::from_str(&h.health_json()).unwrap();
    assert_eq!(health["retained_generations"].as_array().unwrap().len(), 0);
    assert_eq!(health["status"], "healthy");
    assert_eq!(sb.shadow_folders(), 0);
}

#[test]
fn reload_waits_for_in_flight_calls_and_new_calls_go_to_the_new_generation() {
    let f = fixtures();
    let sb = Sandbox::new();
    let h = host(&sb, "");
    let path = sb.install(&f.counter, "counter");
    let id = h.load_module(&path).unwrap();
    let h2 = h.clone();
    let slow = std::thread::spawn(move || h2.execute(id, "sleep", b"200").map(|_| ()));
    while serde_json::from_str::<serde_json::Value>(&h.health_json()).unwrap()["modules"][0]["in_flight"] != 1 {
        std::thread::yield_now();
    }
    replace_file(&f.counter_v2, &path);
    let h3 = h.clone();
    let reload = std::thread::spawn(move || h3.reload_module(id, None));
    while h.health().modules[0].generation != 2 {
        std::thread::yield_now();
    }
    // The old generation is still draining: the new one is swapped in but waits for the state.
    assert_eq!(h.health().modules[0].state, "swapping");
    let version = text(h.execute(id, "version", b"").unwrap());
    assert_eq!(version, "2.0.0");
    assert!(slow.join().unwrap().is_ok());
    assert_eq!(reload.join().unwrap().unwrap(), 2);
}

#[test]
fn thread_local_destructors_pin_the_library_and_are_reported_and_capped() {
    let f = fixtures();
    let sb = Sandbox::new();
    let h = host(&sb, r#""MaxPinnedGenerations": 1"#);
    let path = sb.install(&f.tls_pinned, "tls");

    // A thread that exits before the unload takes its thread-local values with it: unmapped.
    let id = h.load_module(&path).unwrap();
    let h2 = h.clone();
    std::thread::spawn(move || h2.execute(id, "touch", b"").unwrap()).join().unwrap();
    h.unload_module(id).unwrap();
    assert_eq!(sb.shadow_folders(), 0);

    // A thread that lives on through the unload holds the library: pinned, reported, capped.
    let id = h.load_module(&path).unwrap();
    let release = Arc::new(AtomicBool::new(false));
    let touched = Arc::new(AtomicBool::new(false));
    let keeper = {
        let (h, release, touched) = (h.clone(), release.clone(), touched.clone());
        std::thread::spawn(move || {
            h.execute(id, "touch", b"").unwrap();
            touched.store(true, Ordering::SeqCst);
            while !release.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        })
    };
    while !touched.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    h.unload_module(id).unwrap();
    let health: serde_json::Value = serde_json::from_str(&h.health_json()).unwrap();
    assert_eq!(health["retained_generations"][0]["reason"], "pinned");
    assert_eq!(health["status"], "unhealthy", "cap of 1 reached");
    assert_eq!(h.load_module(&path).unwrap_err().kind(), ErrorKind::ModulePinnedLimit);
    release.store(true, Ordering::SeqCst);
    keeper.join().unwrap();
    // glibc does not retry the unload when the thread ends: the generation stays pinned for the
    // life of the process, and housekeeping keeps reporting it.
    h.maintain();
    let health: serde_json::Value = serde_json::from_str(&h.health_json()).unwrap();
    assert_eq!(health["retained_generations"].as_array().unwrap().len(), 1);
    assert_eq!(sb.shadow_folders(), 1, "its shadow file stays while it is mapped");
    h.stop();
}

#[test]
fn modules_reach_storage_events_and_services() {
    let f = fixtures();
    let sb = Sandbox::new();
    let h = host(&sb, "");
    let id = h.load_module(&sb.install(&f.counter, "counter")).unwrap();
    h.execute(id, "store", b"remember me").unwrap();
    assert_eq!(h.storage_get("counter.last").unwrap(), b"remember me");

    let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let s = seen.clone();
    h.subscribe(
        "counter.changed",
        Arc::new(move |e: &plughost::events::Event| s.lock().push((e.source.clone(), e.payload.clone()))),
    )
    .unwrap();
    h.execute(id, "publish", b"42").unwrap();
    assert_eq!(*seen.lock(), vec![("counter".to_owned(), b"42".to_vec())]);

    h.register_service(
        "revit.create_wall",
        ServiceThreading::AnyThread,
        Arc::new(|input: &[u8]| Ok([b"wall for ".as_slice(), input].concat())),
    )
    .unwrap();
    assert_eq!(text(h.execute(id, "call", b"revit.create_wall").unwrap()), "wall for from counter");
    let e = h.execute(id, "call", b"no.such.service").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ModuleFailed);
    assert!(e.message().contains("200"), "the status reaches the module: {}", e.message());

    let g = h.load_module(&sb.install(&f.greeter, "greeter")).unwrap();
    assert_eq!(text(h.execute(g, "service", b"revit.create_wall").unwrap()), "wall for from C");
}

#[test]
fn main_thread_service_from_module_on_worker_thread_is_pumped() {
    let f = fixtures();
    let sb = Sandbox::new();
    let h = host(&sb, "");
    let main = std::thread::current().id();
    h.register_service(
        "ui.ask",
        ServiceThreading::MainThread,
        Arc::new(move |_: &[u8]| {
            Ok(if std::thread::current().id() == main { b"main".to_vec() } else { b"other".to_vec() })
        }),
    )
    .unwrap();
    let id = h.load_module(&sb.install(&f.counter, "counter")).unwrap();
    assert_eq!(text(h.execute(id, "call", b"ui.ask").unwrap()), "main", "inline on the main thread");
    let requests = Arc::new(AtomicUsize::new(0));
    let r = requests.clone();
    h.set_pump_request(Some(Arc::new(move || {
        r.fetch_add(1, Ordering::SeqCst);
    })));
    let h2 = h.clone();
    let worker = std::thread::spawn(move || h2.execute(id, "call", b"ui.ask"));
    let mut ran = 0;
    while ran == 0 {
        ran = h.pump(0).unwrap();
        std::thread::yield_now();
    }
    assert_eq!(text(worker.join().unwrap().unwrap()), "main", "queued and run by the pump");
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

#[test]
fn reload_on_main_thread_pumps_while_draining() {
    let f = fixtures();
    let sb = Sandbox::new();
    let h = host(&sb, "");
    h.register_service("ui.ask", ServiceThreading::MainThread, Arc::new(|_: &[u8]| Ok(b"ok".to_vec()))).unwrap();
    let path = sb.install(&f.counter, "counter");
    let id = h.load_module(&path).unwrap();
    let h2 = h.clone();
    // A worker's call is waiting for the main thread inside the module when the main thread reloads.
    let worker = std::thread::spawn(move || h2.execute(id, "call", b"ui.ask"));
    while h.health().main_thread_pending == 0 {
        std::thread::yield_now();
    }
    assert_eq!(h.reload_module(id, None).unwrap(), 2, "no deadlock: the drain pumped the call");
    assert_eq!(text(worker.join().unwrap().unwrap()), "ok");
}

#[test]
fn health_reports_commands_process_and_components() {
    let f = fixtures();
    let sb = Sandbox::new();
    let h = host(&sb, "");
    let id = h.load_module(&sb.install(&f.counter, "counter")).unwrap();
    for _ in 0..10 {
        h.execute(id, "noop", b"").unwrap();
    }
    let _ = h.execute(id, "fail", b"");
    let _ = h.execute(id, "bogus", b"");
    let v: serde_json::Value = serde_json::from_str(&h.health_json()).unwrap();
    assert_eq!(v["status"], "healthy");
    assert_eq!(
        v["components"],
        serde_json::json!([
            "logging",
            "storage",
            "events",
            "services",
            "ipc",
            "modules",
            "plugins",
            "python",
            "extensions",
            "watch",
            "health_monitor"
        ])
    );
    assert!(v["process"]["rss_bytes"].as_u64().unwrap() > 0);
    assert!(v["process"]["threads"].as_u64().unwrap() >= 1);
    assert!(v["process"]["open_fds"].as_u64().unwrap() >= 3);
    let commands = v["modules"][0]["commands"].as_array().unwrap();
    let noop = commands.iter().find(|c| c["command"] == "noop").unwrap();
    assert_eq!(noop["calls"], 10);
    assert!(noop["p50_us"].as_f64().unwrap() <= noop["p99_us"].as_f64().unwrap());
    let fail = commands.iter().find(|c| c["command"] == "fail").unwrap();
    assert_eq!(fail["failures"], 1);
    assert!(commands.iter().any(|c| c["command"] == "(unknown)"));
    assert_eq!(v["modules"][0]["execute_failures"], 2);
    assert_eq!(v["trusted_roots"]["restricted"], true);
}

#[test]
fn stop_unloads_everything_and_refuses_work() {
    let f = fixtures();
    let sb = Sandbox::new();
    let h = host(&sb, "");
    let id = h.load_module(&sb.install(&f.counter, "counter")).unwrap();
    h.stop();
    assert_eq!(sb.shadow_folders(), 0);
    assert_eq!(h.execute(id, "get", b"").unwrap_err().kind(), ErrorKind::InvalidHandle);
    assert_eq!(h.load_module(&sb.root()).unwrap_err().kind(), ErrorKind::HostStopped);
    assert_eq!(h.health().status, plughost::health::Status::Unhealthy);
    h.stop();
}

#[test]
fn log_callback_receives_events_from_any_thread_and_level_changes() {
    let f = fixtures();
    let sb = Sandbox::new();
    let h = host(&sb, "");
    let lines = Arc::new(parking_lot::Mutex::new(Vec::<(u32, String, String)>::new()));
    let l = lines.clone();
    h.set_log_callback(Some(Arc::new(move |level, target: &str, message: &str| {
        l.lock().push((level, target.to_owned(), message.to_owned()))
    })));
    let path = sb.install(&f.counter, "counter");
    let h2 = h.clone();
    let id = std::thread::spawn(move || h2.load_module(&path).unwrap()).join().unwrap();
    {
        let lines = lines.lock();
        assert!(lines.iter().any(|(lvl, t, m)| *lvl == 3 && t == "counter" && m.contains("initialised")), "{lines:?}");
        assert!(lines.iter().any(|(_, t, m)| t.starts_with("plughost") && m.contains("module loaded")), "{lines:?}");
    }
    h.set_log_level(1).unwrap();
    lines.lock().clear();
    h.execute(id, "increment", b"").unwrap();
    h.reload_module(id, None).unwrap();
    assert!(lines.lock().iter().all(|(lvl, _, _)| *lvl == 1), "only errors at level 1");
    assert_eq!(h.set_log_level(6).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

/// Host start sweeps the IPC segment files that owners no longer running left in /dev/shm.
#[cfg(target_os = "linux")]
#[test]
fn host_start_sweeps_stale_ipc_segments() {
    let shm = std::path::Path::new("/dev/shm");
    if !shm.is_dir() {
        eprintln!("no /dev/shm here: nothing to sweep");
        return;
    }
    // A pid above the kernel's maximum (4,194,304) never runs.
    let stale = shm.join(format!("plughost-999999999-{:032x}", std::process::id()));
    std::fs::write(&stale, b"left behind").unwrap();
    let sb = Sandbox::new();
    let _host = host(&sb, "");
    assert!(!stale.exists(), "{} was not swept", stale.display());
}
