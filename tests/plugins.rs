//! Out-of-process plugins through the Rust API: supervision (crash mid-call, restart with backoff,
//! crash loops that stop at the limit, idle stop, graceful stop), host services from plugins
//! (nested calls, storage, services, events between plugins), 20 plugins at once, and a host freed
//! with plugins running.
//!
//! The plugin here is this test binary itself (the `plugin_entry` test, which acts only when the
//! host started it), written against the protocol with the bare session API, so that these tests
//! do not depend on the plugin SDK. Its behaviour follows its name: a name containing `failinit`
//! fails its initialize, one containing `exitearly` exits with status 7 before attaching.
#![cfg(target_os = "linux")]

mod support;

use plughost::config::IpcSettings;
use plughost::ipc::session::{IpcError, Session};
use plughost::plugins::protocol::{self, host_method, *};
use plughost::plugins::PluginState;
use plughost::{ErrorKind, Host};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(20);

/// The plugin: serve the protocol until the host says goodbye.
#[test]
fn plugin_entry() {
    let Ok(name) = std::env::var(NAME_ENV) else { return };
    if name.contains("exitearly") {
        std::process::exit(7);
    }
    let ipc = IpcSettings::from_json(&std::env::var(IPC_ENV).unwrap_or_default()).unwrap();
    let session = Session::attach_from_env_with(&ipc.geometry, ipc.session).unwrap();
    let host = session.handle();
    let config = Arc::new(Mutex::new(String::new()));
    let events = Arc::new(AtomicU64::new(0));
    let stored = config.clone();
    let fail_init = name.contains("failinit");
    session
        .register_on(
            PLUGIN_CHANNEL,
            LIFECYCLE_SERVICE,
            &[],
            Arc::new(move |method, payload| match method {
                INITIALIZE if fail_init => Err((201, "this plugin refuses to start".into())),
                INITIALIZE => {
                    *stored.lock().unwrap() = String::from_utf8_lossy(payload).into_owned();
                    Ok(Vec::new())
                }
                _ => Ok(Vec::new()),
            }),
        )
        .unwrap();
    let counted = events.clone();
    session
        .on_channel_event(
            EVENT_CHANNEL,
            Arc::new(move |_, payload| {
                let envelope: EventEnvelope = protocol::decode(payload, "event").unwrap();
                counted.fetch_add(envelope.payload.len() as u64, Ordering::SeqCst);
            }),
        )
        .unwrap();
    let ask = move |method: &str, payload: &[u8]| {
        host.call_on(HOST_CHANNEL, HOST_SERVICE, method, payload, LONG).map_err(|e| match e {
            IpcError::Remote { status, message } => (status, message),
            other => (201, other.to_string()),
        })
    };
    session
        .register_on(
            PLUGIN_CHANNEL,
            PLUGIN_SERVICE,
            &[],
            Arc::new(move |command, input| match command {
                "echo" => Ok(input.to_vec()),
                "pid" => Ok(std::process::id().to_string().into_bytes()),
                "config" => Ok(config.lock().unwrap().clone().into_bytes()),
                "store" => {
                    let set = StorageSet { key: "from-plugin".into(), value: input.to_vec() };
                    ask(host_method::STORAGE_SET, &protocol::encode(&set))?;
                    ask(host_method::STORAGE_GET, b"from-plugin")
                }
                "log" => ask(
                    host_method::LOG,
                    &protocol::encode(&LogRequest { level: 3, message: "logged by the plugin".into() }),
                ),
                "service" => ask(
                    host_method::SERVICE_CALL,
                    &protocol::encode(&ServiceCall { name: "app.double".into(), input: input.to_vec() }),
                ),
                "publish" => ask(
                    host_method::EVENT_PUBLISH,
                    &protocol::encode(&Publish { topic: "news".into(), payload: input.to_vec() }),
                ),
                "subscribe" => ask(host_method::EVENT_SUBSCRIBE, b"news"),
                "events" => Ok(events.load(Ordering::SeqCst).to_string().into_bytes()),
                "sleep" => {
                    std::thread::sleep(Duration::from_millis(String::from_utf8_lossy(input).parse().unwrap_or(0)));
                    Ok(Vec::new())
                }
                "exit" => std::process::exit(String::from_utf8_lossy(input).parse().unwrap_or(0)),
                "abort" => std::process::abort(),
                "print" => {
                    println!("{}", String::from_utf8_lossy(input));
                    eprintln!("to stderr: {}", String::from_utf8_lossy(input));
                    Ok(Vec::new())
                }
                other => Err((105, format!("no command {other}"))),
            }),
        )
        .unwrap();
    loop {
        match session.serve(Instant::now() + Duration::from_secs(1)) {
            Ok(()) => {}
            Err(IpcError::Closed) => std::process::exit(0),
            Err(_) => std::process::exit(1),
        }
    }
}

/// A plugin declaration running this binary as the plugin, with `extra` keys.
fn declared(name: &str, extra: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    format!(
        r#"{{"Name": "{name}", "Path": {:?}, "Args": ["plugin_entry", "--exact", "--nocapture", "--test-threads=1"]{}{extra}}}"#,
        exe.display().to_string(),
        if extra.is_empty() { "" } else { ", " }
    )
}

fn host_with(plugins: &[String]) -> Arc<Host> {
    Host::from_json(&format!(r#"{{"PlugHost": {{"Plugins": {{"Declared": [{}]}}}}}}"#, plugins.join(", "))).unwrap()
}

fn pid(host: &Host, name: &str) -> u32 {
    String::from_utf8(host.call_plugin(name, "pid", b"", None).unwrap()).unwrap().parse().unwrap()
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Wait until `name` is in `state`.
fn wait_for(host: &Host, name: &str, state: PluginState) {
    let deadline = Instant::now() + LONG;
    while host.plugin_state(name).unwrap() != state {
        assert!(Instant::now() < deadline, "{name} never became {state}; it is {}", host.plugin_state(name).unwrap());
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn calls_config_and_host_services_from_a_plugin() {
    let host = host_with(&[declared("svc", r#""Config": {"answer": 42}"#)]);
    host.register_service(
        "app.double",
        plughost::services::ServiceThreading::AnyThread,
        Arc::new(|input: &[u8]| Ok([input, input].concat())),
    )
    .unwrap();
    assert_eq!(host.plugin_state("svc").unwrap(), PluginState::Running);
    assert_eq!(host.call_plugin("svc", "echo", b"ping", None).unwrap(), b"ping");
    assert_eq!(host.call_plugin("svc", "config", b"", None).unwrap(), br#"{"answer":42}"#);
    // Nested: the plugin calls the host's storage in the middle of the host's call.
    assert_eq!(host.call_plugin("svc", "store", b"value", None).unwrap(), b"value");
    assert_eq!(host.storage_get("from-plugin").unwrap(), b"value");
    assert_eq!(host.call_plugin("svc", "service", b"ab", None).unwrap(), b"abab");
    host.call_plugin("svc", "log", b"", None).unwrap();
    let e = host.call_plugin("svc", "nope", b"", None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PluginFailed, "{e}");
    assert!(e.message().contains("MODULE_UNKNOWN_COMMAND (105): no command nope"), "{e}");
    assert_eq!(host.call_plugin("none", "echo", b"", None).unwrap_err().kind(), ErrorKind::PluginNotFound);
    let status = &host.plugins()[0];
    assert_eq!((status.calls, status.failures, status.starts), (6, 1, 1));
    assert!(status.usage.rss_bytes.unwrap() > 0 && status.usage.cpu_ms.is_some());
    let health: serde_json::Value = serde_json::from_str(&host.health_json()).unwrap();
    assert_eq!(health["plugins"][0]["state"], "running");
    assert_eq!(health["status"], "healthy");
}

#[test]
fn events_between_two_plugins_and_the_host() {
    let host = host_with(&[declared("alpha", ""), declared("beta", "")]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    host.subscribe("news", Arc::new(move |e: &plughost::events::Event| s.lock().unwrap().push(e.source.clone())))
        .unwrap();
    host.call_plugin("beta", "subscribe", b"", None).unwrap();
    assert_eq!(host.call_plugin("alpha", "publish", b"12345", None).unwrap(), 2u64.to_le_bytes(), "the host and beta");
    host.publish("news", b"xyz").unwrap();
    let deadline = Instant::now() + LONG;
    while host.call_plugin("beta", "events", b"", None).unwrap() != b"8" {
        assert!(Instant::now() < deadline, "beta did not get both events");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(*seen.lock().unwrap(), ["alpha", "host"]);
    assert_eq!(host.call_plugin("alpha", "events", b"", None).unwrap(), b"0", "alpha did not subscribe");
}

#[test]
fn a_crash_mid_call_fails_the_call_and_the_plugin_restarts_alone() {
    let host = host_with(&[declared("victim", r#""BackoffMs": 10"#), declared("bystander", "")]);
    let states = Arc::new(Mutex::new(Vec::new()));
    let s = states.clone();
    host.subscribe_plugin_states(Arc::new(move |plugin, _, to, _| {
        if plugin == "victim" {
            s.lock().unwrap().push(to)
        }
    }))
    .unwrap();
    let bystander = pid(&host, "bystander");
    for (command, input) in [("exit", "3"), ("abort", ""), ("kill", "")] {
        let before = pid(&host, "victim");
        let result = if command == "kill" {
            std::thread::scope(|s| {
                let call = s.spawn(|| host.call_plugin("victim", "sleep", b"10000", None));
                std::thread::sleep(Duration::from_millis(100));
                sigkill(before);
                call.join().unwrap()
            })
        } else {
            host.call_plugin("victim", command, input.as_bytes(), None)
        };
        let e = result.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PluginCrashed, "{command}: {e}");
        // The next call waits for the restart and succeeds.
        assert_eq!(host.call_plugin("victim", "echo", b"again", None).unwrap(), b"again", "{command}");
        assert_ne!(pid(&host, "victim"), before);
        assert!(!alive(before), "the crashed process was reaped");
    }
    assert_eq!(pid(&host, "bystander"), bystander, "the other plugin was untouched");
    let status = host.plugins().into_iter().find(|p| p.name == "victim").unwrap();
    assert_eq!((status.crashes, status.restarts), (3, 3));
    let states = states.lock().unwrap();
    assert!(states.contains(&PluginState::Restarting) && states.contains(&PluginState::Running), "{states:?}");
}

/// SIGKILL `pid` (a plugin process this test started).
fn sigkill(pid: u32) {
    std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
}

#[test]
fn a_crash_loop_stops_at_the_restart_limit() {
    let host = host_with(&[declared("exitearly", r#""MaxRestarts": 3, "BackoffMs": 1, "BackoffMaxMs": 4"#)]);
    wait_for(&host, "exitearly", PluginState::Crashed);
    let status = &host.plugins()[0];
    assert_eq!((status.starts, status.restarts, status.crashes), (4, 3, 4));
    assert!(status.reason.contains("gave up after 3 restarts"), "{}", status.reason);
    let e = host.call_plugin("exitearly", "echo", b"", None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PluginNotRunning);
    assert!(e.message().contains("crashed") && e.message().contains("exited with status 7"), "{e}");
    let health: serde_json::Value = serde_json::from_str(&host.health_json()).unwrap();
    assert_eq!(health["status"], "degraded");
    // A start by hand tries again, with a fresh window.
    assert_eq!(host.start_plugin("exitearly").unwrap_err().kind(), ErrorKind::PluginStartFailed);
}

#[test]
fn a_failing_initialize_is_a_start_failure_and_policy_never_keeps_it_down() {
    let host = host_with(&[declared("failinit", r#""Restart": "never""#)]);
    let status = &host.plugins()[0];
    assert_eq!(status.state, "crashed");
    assert!(
        status.reason.contains("initialize failed") && status.reason.contains("refuses to start"),
        "{}",
        status.reason
    );
    assert!(status.reason.contains("policy never"), "{}", status.reason);
    assert_eq!(host.call_plugin("failinit", "echo", b"", None).unwrap_err().kind(), ErrorKind::PluginNotRunning);
}

#[test]
fn on_demand_idle_stop_and_explicit_stop_and_start() {
    let host = host_with(&[declared("lazy", r#""OnDemand": true, "IdleTtlMs": 300"#), declared("manual", "")]);
    assert_eq!(host.plugin_state("lazy").unwrap(), PluginState::Stopped);
    assert_eq!(host.call_plugin("lazy", "echo", b"woke", None).unwrap(), b"woke");
    let first = pid(&host, "lazy");
    wait_for(&host, "lazy", PluginState::Stopped);
    assert!(host.plugins()[0].reason.contains("idle"), "{}", host.plugins()[0].reason);
    assert!(!alive(first));
    assert_eq!(host.call_plugin("lazy", "echo", b"again", None).unwrap(), b"again", "started by the call");

    let manual = pid(&host, "manual");
    host.stop_plugin("manual").unwrap();
    assert_eq!(host.plugin_state("manual").unwrap(), PluginState::Stopped);
    assert!(!alive(manual), "stopped and reaped");
    assert_eq!(host.call_plugin("manual", "echo", b"", None).unwrap_err().kind(), ErrorKind::PluginNotRunning);
    host.start_plugin("manual").unwrap();
    assert_eq!(host.call_plugin("manual", "echo", b"back", None).unwrap(), b"back");
}

#[test]
fn a_missing_program_is_a_start_failure() {
    let host = Host::from_json(
        r#"{"PlugHost": {"Plugins": {"Declared": [{"Name": "ghost", "Path": "/no/such/program", "Restart": "never"}]}}}"#,
    )
    .unwrap();
    let status = &host.plugins()[0];
    assert_eq!(status.state, "crashed");
    assert!(status.reason.contains("/no/such/program"), "{}", status.reason);
}

#[test]
fn plugin_output_goes_to_the_host_log_under_its_name() {
    let host = host_with(&[declared("talker", "")]);
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l = lines.clone();
    host.set_log_callback(Some(Arc::new(move |level, target: &str, message: &str| {
        if target == "talker" {
            l.lock().unwrap().push((level, message.to_owned()));
        }
    })));
    host.call_plugin("talker", "print", b"hello", None).unwrap();
    host.call_plugin("talker", "log", b"", None).unwrap();
    let deadline = Instant::now() + LONG;
    loop {
        let got = lines.lock().unwrap().clone();
        let has = |level: u32, text: &str| got.iter().any(|(l, m)| *l == level && m.contains(text));
        if has(3, "hello") && has(2, "to stderr: hello") && has(3, "logged by the plugin") {
            break;
        }
        assert!(Instant::now() < deadline, "{got:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn twenty_plugins_at_once_and_nothing_left_after_the_host() {
    let names: Vec<String> = (0..20).map(|i| format!("p{i}")).collect();
    let host = host_with(&names.iter().map(|n| declared(n, "")).collect::<Vec<_>>());
    let pids: Vec<u32> = std::thread::scope(|s| {
        let calls: Vec<_> = names.iter().map(|n| s.spawn(|| pid(&host, n))).collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    assert_eq!(pids.iter().collect::<std::collections::HashSet<_>>().len(), 20);
    assert!(host.plugins().iter().all(|p| p.state == "running"));
    let segments = || {
        std::fs::read_dir("/dev/shm")
            .map(|d| d.flatten().filter(|e| e.file_name().to_string_lossy().starts_with("plughost-")).count())
            .unwrap_or(0)
    };
    host.stop();
    for pid in pids {
        assert!(!alive(pid), "plugin process {pid} is left");
    }
    assert!(host.plugins().iter().all(|p| p.state == "stopped"));
    drop(host);
    assert_eq!(segments(), 0, "no segment file is left in /dev/shm");
}

/// The host side's C ABI, called as C calls it.
mod c_abi {
    use super::*;
    use plughost::ffi::buffer::{plughost_buffer, plughost_buffer_data, plughost_buffer_free};
    use plughost::ffi::host::{plughost_host, plughost_host_free, plughost_host_new};
    use plughost::ffi::plugin::*;
    use plughost::status::*;
    use std::ffi::c_void;
    use std::ptr::{null, null_mut};

    fn s(text: &str) -> (*const u8, usize) {
        (text.as_ptr(), text.len())
    }

    fn take(buffer: plughost_buffer) -> Vec<u8> {
        let (mut data, mut len) = (null(), 0usize);
        // SAFETY: a buffer plughost returned.
        unsafe {
            assert_eq!(plughost_buffer_data(buffer, &mut data, &mut len), PLUGHOST_OK);
            let bytes = std::slice::from_raw_parts(data, len).to_vec();
            plughost_buffer_free(buffer);
            bytes
        }
    }

    static CHANGES: Mutex<Vec<(String, u32, u32)>> = Mutex::new(Vec::new());
    static DESTROYED: AtomicU64 = AtomicU64::new(0);

    unsafe extern "C" fn on_state(
        _: *mut c_void,
        plugin: *const u8,
        len: usize,
        from: u32,
        to: u32,
        _: *const u8,
        _: usize,
    ) {
        // SAFETY: valid for the call.
        let name = String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(plugin, len) }).into_owned();
        CHANGES.lock().unwrap().push((name, from, to));
    }

    unsafe extern "C" fn destroyed(_: *mut c_void) {
        DESTROYED.fetch_add(1, Ordering::SeqCst);
    }

    fn call(host: *const plughost_host, name: &str, command: &str, input: &str) -> (i32, Vec<u8>) {
        let mut out: plughost_buffer = 0;
        let ((np, nl), (cp, cl), (ip, il)) = (s(name), s(command), s(input));
        // SAFETY: valid pointers and lengths.
        let status = unsafe { plughost_plugin_call(host, np, nl, cp, cl, ip, il, 0, &mut out) };
        (status, if status == PLUGHOST_OK { take(out) } else { Vec::new() })
    }

    #[test]
    fn start_stop_call_state_list_subscribe() {
        let config = format!(
            r#"{{"PlugHost": {{"Plugins": {{"Declared": [{}]}}}}}}"#,
            declared("cabi", r#""OnDemand": true, "BackoffMs": 5"#)
        );
        let mut host: *mut plughost_host = null_mut();
        // SAFETY: valid pointers and lengths throughout; the host lives until freed at the end.
        unsafe {
            let (cp, cl) = s(&config);
            assert_eq!(plughost_host_new(cp, cl, &mut host), PLUGHOST_OK);
            let mut subscription = 0u64;
            assert_eq!(
                plughost_plugin_subscribe_states(host, Some(on_state), null_mut(), Some(destroyed), &mut subscription),
                PLUGHOST_OK
            );
            assert_eq!(
                plughost_plugin_subscribe_states(host, None, null_mut(), Some(destroyed), &mut subscription),
                PLUGHOST_ERR_NULL_ARGUMENT
            );
            assert_eq!(DESTROYED.load(Ordering::SeqCst), 1, "a failed subscription destroys its user data");
            let (np, nl) = s("cabi");
            let mut state = 99u32;
            assert_eq!(plughost_plugin_state(host, np, nl, &mut state), PLUGHOST_OK);
            assert_eq!(state, PLUGHOST_PLUGIN_STOPPED);
            assert_eq!(call(host, "cabi", "echo", "x"), (PLUGHOST_OK, b"x".to_vec()), "on demand: started by the call");
            assert_eq!(plughost_plugin_state(host, np, nl, &mut state), PLUGHOST_OK);
            assert_eq!(state, PLUGHOST_PLUGIN_RUNNING);
            assert_eq!(call(host, "cabi", "nope", "").0, PLUGHOST_ERR_PLUGIN_FAILED);
            assert_eq!(call(host, "other", "echo", "").0, PLUGHOST_ERR_PLUGIN_NOT_FOUND);
            assert_eq!(call(host, "cabi", "exit", "9").0, PLUGHOST_ERR_PLUGIN_CRASHED);
            assert_eq!(call(host, "cabi", "echo", "y"), (PLUGHOST_OK, b"y".to_vec()), "restarted");
            let mut json: plughost_buffer = 0;
            assert_eq!(plughost_plugin_list(host, &mut json), PLUGHOST_OK);
            let list: serde_json::Value = serde_json::from_slice(&take(json)).unwrap();
            assert_eq!(list[0]["name"], "cabi");
            assert_eq!(list[0]["state"], "running");
            assert_eq!(list[0]["crashes"], 1);
            assert_eq!(plughost_plugin_stop(host, np, nl), PLUGHOST_OK);
            assert_eq!(plughost_plugin_state(host, np, nl, &mut state), PLUGHOST_OK);
            assert_eq!(state, PLUGHOST_PLUGIN_STOPPED);
            assert_eq!(plughost_plugin_start(host, np, nl), PLUGHOST_OK);
            let (bp, bl) = s("bogus");
            assert_eq!(plughost_plugin_start(host, bp, bl), PLUGHOST_ERR_PLUGIN_NOT_FOUND);
            assert_eq!(plughost_plugin_stop(host, bp, bl), PLUGHOST_ERR_PLUGIN_NOT_FOUND);
            assert_eq!(plughost_plugin_state(host, np, nl, null_mut()), PLUGHOST_ERR_NULL_ARGUMENT);
            assert_eq!(plughost_plugin_list(host, null_mut()), PLUGHOST_ERR_NULL_ARGUMENT);
            assert_eq!(
                plughost_plugin_call(host, np, nl, null(), 0, null(), 0, 0, &mut json),
                PLUGHOST_ERR_NULL_ARGUMENT
            );
            let changes = CHANGES.lock().unwrap().clone();
            let to: Vec<u32> = changes.iter().filter(|c| c.0 == "cabi").map(|c| c.2).collect();
            assert_eq!(
                &to[..4],
                &[
                    PLUGHOST_PLUGIN_STARTING,
                    PLUGHOST_PLUGIN_INITIALIZING,
                    PLUGHOST_PLUGIN_RUNNING,
                    PLUGHOST_PLUGIN_RESTARTING
                ]
            );
            assert!(to.contains(&PLUGHOST_PLUGIN_SHUTTING_DOWN) && to.contains(&PLUGHOST_PLUGIN_STOPPED));
            assert_eq!(plughost_plugin_unsubscribe_states(host, subscription), PLUGHOST_OK);
            assert_eq!(DESTROYED.load(Ordering::SeqCst), 2);
            assert_eq!(plughost_plugin_unsubscribe_states(host, subscription), PLUGHOST_ERR_INVALID_HANDLE);
            plughost_host_free(host);
            assert_eq!(plughost_plugin_start(host, np, nl), PLUGHOST_ERR_INVALID_HANDLE);
        }
    }
}

/// The host's main thread calls a plugin that needs a main-thread service in the middle of its
/// command: the service runs on the main thread while it waits.
#[test]
fn a_main_thread_service_from_a_plugin_called_on_the_main_thread() {
    let host = host_with(&[declared("ui", "")]);
    host.set_main_thread();
    let main = std::thread::current().id();
    host.register_service(
        "app.double",
        plughost::services::ServiceThreading::MainThread,
        Arc::new(move |input: &[u8]| {
            assert_eq!(std::thread::current().id(), main, "runs on the main thread");
            Ok([input, input].concat())
        }),
    )
    .unwrap();
    let started = Instant::now();
    assert_eq!(host.call_plugin("ui", "service", b"xy", None).unwrap(), b"xyxy");
    assert!(started.elapsed() < Duration::from_secs(5), "no wait for a timeout");
}

/// The seed's example plugins, written with the SDK, under the supervisor: commands, a nested
/// storage call, events from transform to analytics, and a panic that fails the call and restarts
/// the plugin (the SDK ends a panicked plugin's process after answering).
#[test]
fn the_example_plugins_under_the_supervisor() {
    let examples = support::rust_plugins();
    let plugin = |name: &str, path: &std::path::Path| {
        format!(
            r#"{{"Name": "{name}", "Path": {:?}, "BackoffMs": 5, "Config": {{"window": 3}}}}"#,
            path.display().to_string()
        )
    };
    let host = host_with(&[plugin("analytics", &examples.analytics), plugin("transform", &examples.transform)]);
    for n in ["2", "4", "9"] {
        host.call_plugin("analytics", "record", n.as_bytes(), None).unwrap();
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&host.call_plugin("analytics", "store", b"", None).unwrap()).unwrap();
    assert_eq!(summary["count"], 3);
    assert_eq!(host.storage_get("analytics.summary").unwrap(), serde_json::to_vec(&summary).unwrap());
    assert_eq!(host.call_plugin("analytics", "config", b"", None).unwrap(), br#"{"window":3}"#);
    assert_eq!(host.call_plugin("transform", "upper", b"abc", None).unwrap(), b"ABC");
    host.call_plugin("analytics", "subscribe", b"", None).unwrap();
    host.call_plugin("transform", "publish-done", b"x", None).unwrap();
    let deadline = Instant::now() + LONG;
    while host.call_plugin("analytics", "events", b"", None).unwrap() != b"1" {
        assert!(Instant::now() < deadline, "analytics never saw transform's event");
        std::thread::sleep(Duration::from_millis(5));
    }
    let before = pid(&host, "analytics");
    let e = host.call_plugin("analytics", "panic", b"", None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PluginFailed, "{e}");
    assert!(e.message().contains("PLUGHOST_ERR_PANIC") && e.message().contains("asked to panic"), "{e}");
    // The panicked process exits after its answer; a call racing its exit may fail, later calls
    // reach the restarted process.
    let deadline = Instant::now() + LONG;
    let current = || host.call_plugin("analytics", "pid", b"", None).ok().and_then(|p| String::from_utf8(p).ok());
    while current().is_none_or(|p| p == before.to_string()) {
        assert!(Instant::now() < deadline, "analytics was not restarted after its panic");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(host.call_plugin("transform", "reverse", b"abc", None).unwrap(), b"cba", "transform untouched");
    let status = host.plugins().into_iter().find(|p| p.name == "analytics").unwrap();
    assert_eq!((status.crashes, status.restarts), (1, 1));
}

/// Many crashes and restarts leave no thread, descriptor or process behind. Measured in a process
/// of its own (this binary, running only `leak_probe`), so that other tests do not disturb the
/// counts.
#[test]
fn restarts_leak_no_threads_descriptors_or_processes() {
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["leak_probe", "--exact", "--nocapture", "--test-threads=1"])
        .env(LEAK_PROBE_ENV, "1")
        .status()
        .unwrap();
    assert!(status.success(), "the leak probe failed: {status}");
}

const LEAK_PROBE_ENV: &str = "PLUGHOST_TEST_LEAK_PROBE";

#[test]
fn leak_probe() {
    if std::env::var_os(LEAK_PROBE_ENV).is_none() {
        return; // run by restarts_leak_no_threads_descriptors_or_processes
    }
    let count = |dir: &str| std::fs::read_dir(dir).unwrap().count();
    let host = host_with(&[declared("leaky", r#""BackoffMs": 1, "MaxRestarts": 1000, "RestartWindowMs": 1"#)]);
    let cycle = || {
        assert_eq!(host.call_plugin("leaky", "exit", b"5", None).unwrap_err().kind(), ErrorKind::PluginCrashed);
        host.call_plugin("leaky", "echo", b"", None).unwrap();
        // The old instance's threads (waiter, output, restart) end right after the restart.
        std::thread::sleep(Duration::from_millis(20));
    };
    cycle();
    let (threads, fds) = (count("/proc/self/task"), count("/proc/self/fd"));
    for _ in 0..30 {
        cycle();
    }
    let (threads_after, fds_after) = (count("/proc/self/task"), count("/proc/self/fd"));
    println!("threads {threads} -> {threads_after}, descriptors {fds} -> {fds_after}");
    assert!(threads_after <= threads + 2, "threads {threads} -> {threads_after}");
    assert!(fds_after <= fds + 2, "descriptors {fds} -> {fds_after}");
    assert_eq!(host.plugins()[0].restarts, 31);
    // One child process: the running plugin (the crashed ones were reaped, no zombie is left).
    let me = std::process::id().to_string();
    let children = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)) == Some(me.as_str()))
        .count();
    assert_eq!(children, 1);
}

/// A plugin found through a `plugin.toml` manifest in a search path starts with the host; a broken
/// manifest is reported in health and does not stop the host.
#[test]
fn a_manifest_in_a_search_path_declares_a_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("found");
    std::fs::create_dir(&folder).unwrap();
    std::os::unix::fs::symlink(std::env::current_exe().unwrap(), folder.join("program")).unwrap();
    std::fs::write(
        folder.join("plugin.toml"),
        "[extension]\nname = \"found\"\nversion = \"1.0.0\"\nkind = \"plugin\"\nentry = \"program\"\n\n[plugin]\n\
         Args = [\"plugin_entry\", \"--exact\", \"--nocapture\", \"--test-threads=1\"]\nConfig = { from = \"manifest\" }\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("broken")).unwrap();
    std::fs::write(dir.path().join("broken/plugin.toml"), "[extension]\nkind = \"plugin\"\n").unwrap();
    let config = serde_json::json!({"PlugHost": {"Plugins": {"SearchPaths": [dir.path()]}}});
    let host = Host::from_json(&config.to_string()).unwrap();
    assert_eq!(host.call_plugin("found", "config", b"", None).unwrap(), br#"{"from":"manifest"}"#);
    let health: serde_json::Value = serde_json::from_str(&host.health_json()).unwrap();
    assert_eq!(health["plugins"][0]["origin"], folder.join("plugin.toml").display().to_string());
    assert_eq!(health["status"], "degraded");
    let problems = health["plugin_manifest_problems"].as_array().unwrap();
    // One line per problem of the broken manifest (name, version, entry), each naming it.
    assert!(
        problems.len() == 3 && problems.iter().all(|p| p.as_str().unwrap().contains("broken/plugin.toml")),
        "{problems:?}"
    );
}
