//! The plugin side of out-of-process plugins: the example plugins `examples/plugins/analytics`
//! and `transform` (Rust SDK, `plughost::plugin`) started and driven by a fake host made of the
//! public `Session` API (`support/fake_host.rs`): lifecycle, commands, host services called
//! during a request, events, and how each way of ending sets the exit code.
#![cfg(target_os = "linux")]

mod support;

use plughost::ipc::session::IpcError;
use plughost::status::*;
use std::process::Command;
use std::sync::Arc;
use support::fake_host::{remote_failure, Bus, FakeHost};
use support::rust_plugins;

fn analytics(bus: &Arc<Bus>, name: &str) -> FakeHost {
    FakeHost::start(bus, &rust_plugins().analytics, &[], name)
}

fn transform(bus: &Arc<Bus>, name: &str) -> FakeHost {
    FakeHost::start(bus, &rust_plugins().transform, &[], name)
}

#[test]
fn analytics_runs_commands_stores_with_a_nested_call_and_shuts_down() {
    let bus = Arc::new(Bus::default());
    let mut host = analytics(&bus, "stats");
    host.initialize(r#"{"Window": 10}"#).unwrap();
    assert_eq!(host.command("config", "").unwrap(), r#"{"Window": 10}"#);
    assert_eq!(bus.logged("stats"), [(3, "analytics stats ready".to_owned())]);
    assert_eq!(host.command("summary", "").unwrap(), r#"{"count":0,"max":null,"mean":null,"min":null}"#);
    for (n, x) in ["1", "2", "6"].iter().enumerate() {
        assert_eq!(host.command("record", x).unwrap(), (n + 1).to_string());
    }
    let summary = r#"{"count":3,"max":6.0,"mean":3.0,"min":1.0}"#;
    assert_eq!(host.command("summary", "").unwrap(), summary);
    // `store` calls the host's storage while the host's request runs.
    assert_eq!(host.command("store", "").unwrap(), summary);
    assert_eq!(bus.storage.lock().unwrap()["analytics.summary"], summary.as_bytes());

    let (status, message) = remote_failure(host.command("record", "many"));
    assert_eq!((status, message.as_str()), (PLUGHOST_ERR_SERVICE_FAILED, "\"many\" is not a number"));
    let (status, message) = remote_failure(host.command("fly", ""));
    assert_eq!(status, PLUGHOST_ERR_SERVICE_FAILED);
    assert!(message.contains("no command \"fly\""), "{message}");
    let (status, _) = remote_failure(host.call("plugin.lifecycle", "dance", b""));
    assert_eq!(status, PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND);
    assert_eq!(host.command("pid", "").unwrap(), host.child.id().to_string());

    host.shutdown().unwrap();
    assert_eq!(host.wait_exit().code(), Some(0));
    assert_eq!(bus.logged("stats").last().unwrap(), &(3, "analytics stops".to_owned()));
}

#[test]
fn events_of_a_subscription_reach_the_plugin() {
    let bus = Arc::new(Bus::default());
    let stats = analytics(&bus, "stats");
    let words = transform(&bus, "words");
    stats.initialize("").unwrap();
    words.initialize("").unwrap();
    assert_eq!(words.command("publish-done", "nobody").unwrap(), "0");
    stats.command("subscribe", "").unwrap();
    // The plugin publishes through the host, which delivers to the other plugin's subscription.
    assert_eq!(words.command("publish-done", "first").unwrap(), "1");
    bus.publish("host", "transform.done", b"second");
    bus.publish("host", "other.topic", b"ignored");
    stats.eventually("two events", || stats.command("events", "").unwrap() == "2");
    let published = bus.published.lock().unwrap().clone();
    assert_eq!(published[1], ("words".into(), "transform.done".into(), b"first".to_vec()));
}

#[test]
fn transform_commands_and_host_services_then_goodbye_exits_0() {
    let bus = Arc::new(Bus::default());
    let mut host = transform(&bus, "words");
    host.initialize("{}").unwrap();
    assert_eq!(host.command("upper", "straße").unwrap(), "STRASSE");
    assert_eq!(host.command("reverse", "abc").unwrap(), "cba");
    assert_eq!(host.command("words", "a b a").unwrap(), r#"{"a":2,"b":1}"#);
    assert_eq!(host.command("call-service", "greet world").unwrap(), "hello world");
    // The host's failure keeps its status through the plugin to its caller.
    let (status, message) = remote_failure(host.command("call-service", "missing"));
    assert_eq!(status, PLUGHOST_ERR_SERVICE_NOT_FOUND);
    assert!(message.contains("no service \"missing\""), "{message}");
    host.session.close();
    assert_eq!(host.wait_exit().code(), Some(0));
}

#[test]
fn a_panic_answers_the_caller_then_exits_101() {
    let bus = Arc::new(Bus::default());
    let mut host = analytics(&bus, "stats");
    host.initialize("").unwrap();
    let (status, message) = remote_failure(host.command("panic", ""));
    assert_eq!(status, PLUGHOST_ERR_PANIC);
    assert!(message.contains("analytics was asked to panic"), "{message}");
    assert_eq!(host.wait_exit().code(), Some(101));
}

#[test]
fn a_crash_fails_the_call_in_flight_as_peer_dead() {
    let bus = Arc::new(Bus::default());
    let mut host = transform(&bus, "words");
    assert!(matches!(host.command("crash", ""), Err(IpcError::PeerDead(_))));
    assert_eq!(host.wait_exit().code(), Some(3));
}

#[test]
fn a_plugin_not_started_by_a_host_exits_2() {
    let output = Command::new(&rust_plugins().analytics).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not started by a plughost host"), "{stderr}");
}
