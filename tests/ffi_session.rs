//! The `plughost_session_*` functions called from Rust exactly as C calls them, for both peers:
//! this test binary is peer A, and re-executes itself as peer B (the `child_entry` test, which
//! acts only when it was handed a session). Every function is called with success and with a
//! failure.
#![cfg(target_os = "linux")]

use plughost::ffi::buffer::{plughost_buffer, plughost_buffer_data, plughost_buffer_free};
use plughost::ffi::last_error::plughost_last_error_message;
use plughost::ffi::service::{plughost_output_set_error, plughost_output_write};
use plughost::ffi::session::*;
use plughost::ffi::version::plughost_status_name;
use plughost::ipc::segment::HANDOFF_ENV;
use plughost::status::*;
use std::ffi::{c_void, CStr};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

type Output = plughost::ffi::host_table::OutputSink;

const LONG_MS: u32 = 20_000;

fn s(text: &str) -> (*const u8, usize) {
    (text.as_ptr(), text.len())
}

fn last_error() -> String {
    let mut buf = vec![0u8; 4096];
    // SAFETY: the buffer is valid for its length.
    let len = unsafe { plughost_last_error_message(buf.as_mut_ptr(), buf.len()) };
    String::from_utf8_lossy(&buf[..len.min(buf.len() - 1)]).into_owned()
}

#[track_caller]
fn expect(status: i32, expected: i32, needle: &str) {
    // SAFETY: static strings from plughost_status_name.
    let name = |code| unsafe { CStr::from_ptr(plughost_status_name(code)) }.to_string_lossy().into_owned();
    assert_eq!(status, expected, "got {} ({})", name(status), last_error());
    if expected != PLUGHOST_OK {
        let message = last_error();
        assert!(message.contains(needle), "{needle:?} not in {message:?}");
    }
}

/// The bytes of a buffer, freed.
fn take(buffer: plughost_buffer) -> Vec<u8> {
    let (mut data, mut len) = (null(), 0usize);
    // SAFETY: a buffer plughost returned; the out-pointers are valid.
    unsafe {
        expect(plughost_buffer_data(buffer, &mut data, &mut len), PLUGHOST_OK, "");
        let bytes = std::slice::from_raw_parts(data, len).to_vec();
        if buffer != 0 {
            expect(plughost_buffer_free(buffer), PLUGHOST_OK, "");
        }
        bytes
    }
}

/// `plughost_session_call` on `session`: the status and the answer.
fn call(session: *const plughost_session, channel: u32, service: &str, method: &str, input: &[u8]) -> (i32, Vec<u8>) {
    let mut out: plughost_buffer = 0;
    let ((sp, sl), (mp, ml)) = (s(service), s(method));
    // SAFETY: valid pointers and lengths; `out` is valid for a write.
    let status = unsafe {
        plughost_session_call(session, channel, sp, sl, mp, ml, input.as_ptr(), input.len(), LONG_MS, &mut out)
    };
    (status, if status == PLUGHOST_OK { take(out) } else { Vec::new() })
}

/// The input and method of a handler call, as slices.
///
/// # Safety
/// As the handler's contract gives them.
unsafe fn handler_args<'a>(
    method: *const u8,
    method_len: usize,
    input: *const u8,
    input_len: usize,
) -> (&'a [u8], &'a [u8]) {
    // SAFETY: the caller's contract.
    unsafe { (std::slice::from_raw_parts(method, method_len), std::slice::from_raw_parts(input, input_len)) }
}

/// Peer B's service "peer": echo, ask-host (a nested call to the host's "host".greet), fail,
/// odd-status (a status that is no plughost status), publish (an event to the host), exit (the
/// process exits mid-call).
unsafe extern "C" fn child_service(
    user_data: *mut c_void,
    method: *const u8,
    method_len: usize,
    input: *const u8,
    input_len: usize,
    output: *mut Output,
) -> i32 {
    let session = user_data as *const plughost_session;
    // SAFETY: valid for the call.
    let (method, input) = unsafe { handler_args(method, method_len, input, input_len) };
    match method {
        b"echo" => unsafe { plughost_output_write(output, input.as_ptr(), input.len()) },
        b"ask-host" => {
            let (status, answer) = call(session, 1, "host", "greet", input);
            if status != PLUGHOST_OK {
                let message = last_error();
                // SAFETY: the output is valid for the call.
                unsafe { plughost_output_set_error(output, message.as_ptr(), message.len()) };
                return status;
            }
            let reply = [b"peer heard: ".as_slice(), &answer].concat();
            // SAFETY: the output is valid for the call.
            unsafe { plughost_output_write(output, reply.as_ptr(), reply.len()) }
        }
        b"fail" => {
            let (p, l) = s("refused");
            // SAFETY: the output is valid for the call.
            unsafe { plughost_output_set_error(output, p, l) };
            PLUGHOST_ERR_INVALID_ARGUMENT
        }
        b"odd-status" => 12_345,
        b"publish" => {
            let (tp, tl) = s("from-peer");
            // SAFETY: a live session; the input is valid for the call.
            unsafe { plughost_session_publish(session, 1, tp, tl, input.as_ptr(), input.len(), LONG_MS) }
        }
        b"exit" => std::process::exit(3),
        _ => PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND,
    }
}

/// Peer B: attach, serve "peer" on channel 1, then serve until the session ends.
#[test]
fn child_entry() {
    if std::env::var_os(HANDOFF_ENV).is_none() {
        return; // run as a test of its own: nothing to do
    }
    let mut session: *mut plughost_session = null_mut();
    // SAFETY: NULL options are the defaults; every pointer is valid.
    unsafe {
        expect(plughost_session_attach(null(), 0, &mut session), PLUGHOST_OK, "");
        let (p, l) = s("peer");
        let status = plughost_session_register(session, 1, p, l, Some(child_service), session.cast(), None);
        expect(status, PLUGHOST_OK, "");
        let mut status = PLUGHOST_OK;
        while status == PLUGHOST_OK {
            status = plughost_session_serve(session, 1000);
        }
        expect(status, PLUGHOST_ERR_IPC_CLOSED, "closed");
        plughost_session_free(session);
    }
    std::process::exit(0);
}

static EVENTS: AtomicUsize = AtomicUsize::new(0);

/// A destroy callback whose user data is an `AtomicUsize` counting the calls.
unsafe extern "C" fn count_destroy(counter: *mut c_void) {
    // SAFETY: every registration here passes a pointer to a static `AtomicUsize`.
    unsafe { &*(counter as *const AtomicUsize) }.fetch_add(1, SeqCst);
}

fn counter(c: &'static AtomicUsize) -> *mut c_void {
    c as *const AtomicUsize as *mut c_void
}

unsafe extern "C" fn count_event(_: *mut c_void, _: *const u8, _: usize, _: *const u8, _: usize) {
    EVENTS.fetch_add(1, SeqCst);
}

/// The host's service "host": greet answers "hello " + input.
unsafe extern "C" fn host_service(
    _: *mut c_void,
    method: *const u8,
    method_len: usize,
    input: *const u8,
    input_len: usize,
    output: *mut Output,
) -> i32 {
    // SAFETY: valid for the call.
    let (method, input) = unsafe { handler_args(method, method_len, input, input_len) };
    assert_eq!(method, b"greet");
    let reply = [b"hello ".as_slice(), input].concat();
    // SAFETY: the output is valid for the call.
    unsafe { plughost_output_write(output, reply.as_ptr(), reply.len()) }
}

/// Peer A: create a session and start this binary as peer B.
fn start_child() -> (*mut plughost_session, u32) {
    let mut session: *mut plughost_session = null_mut();
    let exe = std::env::current_exe().unwrap();
    let exe = exe.to_str().unwrap();
    let args = r#"["child_entry", "--exact", "--nocapture", "--test-threads=1"]"#;
    let mut pid = 0u32;
    // SAFETY: valid pointers and lengths.
    unsafe {
        expect(plughost_session_create(null(), 0, &mut session), PLUGHOST_OK, "");
        let ((ep, el), (ap, al)) = (s(exe), s(args));
        expect(plughost_session_spawn(session, ep, el, ap, al, &mut pid), PLUGHOST_OK, "");
    }
    assert!(pid > 0);
    (session, pid)
}

#[test]
fn both_peers_through_the_c_abi() {
    static DESTROYED: AtomicUsize = AtomicUsize::new(0);
    let (session, pid) = start_child();
    // SAFETY: valid pointers and lengths throughout; `session` is live until freed below.
    unsafe {
        let (hp, hl) = s("host");
        expect(
            plughost_session_register(session, 1, hp, hl, Some(host_service), counter(&DESTROYED), Some(count_destroy)),
            PLUGHOST_OK,
            "",
        );
        expect(
            plughost_session_on_event(session, 0, Some(count_event), counter(&DESTROYED), Some(count_destroy)),
            PLUGHOST_OK,
            "",
        );

        assert_eq!(call(session, 1, "peer", "echo", b"ping"), (PLUGHOST_OK, b"ping".to_vec()));
        assert_eq!(call(session, 1, "peer", "ask-host", b"world"), (PLUGHOST_OK, b"peer heard: hello world".to_vec()));
        let (status, _) = call(session, 1, "peer", "fail", b"");
        expect(status, PLUGHOST_ERR_IPC_REMOTE_FAILED, "PLUGHOST_ERR_INVALID_ARGUMENT (2): refused");
        let (status, _) = call(session, 1, "peer", "odd-status", b"");
        expect(status, PLUGHOST_ERR_IPC_REMOTE_FAILED, "SERVICE_FAILED (201): the handler returned 12345");
        let (status, _) = call(session, 2, "peer", "echo", b"");
        expect(status, PLUGHOST_ERR_SERVICE_NOT_FOUND, "no service \"peer\" on channel 2");
        let (status, _) = call(session, 0, "peer", "echo", b"");
        expect(status, PLUGHOST_ERR_INVALID_ARGUMENT, "control channel");

        assert_eq!(call(session, 1, "peer", "publish", b"e"), (PLUGHOST_OK, Vec::new()));
        assert_eq!(EVENTS.load(SeqCst), 1, "the event came before the answer");
        let (tp, tl) = s("topic");
        expect(plughost_session_publish(session, 1, tp, tl, b"x".as_ptr(), 1, LONG_MS), PLUGHOST_OK, "");
        expect(
            plughost_session_publish(session, 0, tp, tl, null(), 0, LONG_MS),
            PLUGHOST_ERR_INVALID_ARGUMENT,
            "channel 0",
        );
        expect(plughost_session_status(session), PLUGHOST_OK, "");
        let (ep, el) = s("/bin/true");
        expect(
            plughost_session_spawn(session, ep, el, null(), 0, null_mut()),
            PLUGHOST_ERR_INVALID_ARGUMENT,
            "started its peer already",
        );

        let mut json: plughost_buffer = 0;
        expect(plughost_session_stats_json(session, &mut json), PLUGHOST_OK, "");
        let stats: serde_json::Value = serde_json::from_slice(&take(json)).unwrap();
        assert_eq!(stats["open"], true);
        assert_eq!(stats["side"], "a");
        assert_eq!(stats["peer_pid"], pid);
        assert_eq!(stats["stats"]["calls"], 6, "the call on channel 0 was refused before sending");
        assert_eq!(stats["stats"]["requests_served"], 1, "the nested greet");
        expect(plughost_session_peer_registry_json(session, LONG_MS, &mut json), PLUGHOST_OK, "");
        let registry: serde_json::Value = serde_json::from_slice(&take(json)).unwrap();
        assert_eq!(registry["services"][0]["name"], "peer");
        assert_eq!(registry["services"][0]["channel"], 1);

        expect(plughost_session_unregister(session, 1, hp, hl), PLUGHOST_OK, "");
        expect(plughost_session_unregister(session, 1, hp, hl), PLUGHOST_ERR_SERVICE_NOT_FOUND, "no service");
        assert_eq!(DESTROYED.load(SeqCst), 1, "the service's user data was destroyed once unregistered");
        // The peer's handler passes on the status of its nested call, with that call's message.
        let (status, _) = call(session, 1, "peer", "ask-host", b"again");
        expect(status, PLUGHOST_ERR_SERVICE_NOT_FOUND, "no service \"host\" on channel 1");

        expect(plughost_session_close(session), PLUGHOST_OK, "");
        expect(plughost_session_status(session), PLUGHOST_ERR_IPC_CLOSED, "closed");
        let started = Instant::now();
        plughost_session_free(session);
        assert_eq!(DESTROYED.load(SeqCst), 2, "the event callback's user data too");
        assert!(started.elapsed() < Duration::from_secs(2), "the child left after the goodbye, not by a kill");
        assert!(!process_exists(pid), "the child is reaped");
        expect(plughost_session_status(session), PLUGHOST_ERR_INVALID_HANDLE, "freed");
        plughost_session_free(session); // a second free is ignored
        plughost_session_free(null_mut());
    }
}

/// Whether a process `pid` exists (a zombie counts: only reaping removes it from /proc).
fn process_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn a_peer_that_exits_mid_call_fails_the_call_with_peer_dead() {
    let (session, _) = start_child();
    let started = Instant::now();
    let (status, _) = call(session, 1, "peer", "exit", b"");
    expect(status, PLUGHOST_ERR_IPC_PEER_DEAD, "died");
    assert!(started.elapsed() < Duration::from_secs(5));
    // SAFETY: a live session.
    unsafe {
        expect(plughost_session_status(session), PLUGHOST_ERR_IPC_PEER_DEAD, "died");
        let mut json: plughost_buffer = 0;
        expect(plughost_session_stats_json(session, &mut json), PLUGHOST_OK, "");
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&take(json)).unwrap()["open"], false);
        plughost_session_free(session);
    }
}

#[test]
fn bad_arguments_are_refused_with_their_status() {
    static DESTROYED: AtomicUsize = AtomicUsize::new(0);
    let mut session: *mut plughost_session = null_mut();
    let mut out: plughost_buffer = 0;
    // SAFETY: every pointer is valid or NULL on purpose.
    unsafe {
        expect(plughost_session_create(null(), 0, null_mut()), PLUGHOST_ERR_NULL_ARGUMENT, "out_session");
        let (op, ol) = s(r#"{"RingCapacity": 5000, "SpinCont": 1}"#);
        expect(
            plughost_session_create(op, ol, &mut session),
            PLUGHOST_ERR_INVALID_CONFIG,
            "did you mean \"SpinCount\"",
        );
        assert!(session.is_null(), "no output on failure");
        let (op, ol) = s("{not json");
        expect(plughost_session_attach(op, ol, &mut session), PLUGHOST_ERR_INVALID_CONFIG, "not valid JSON");
        expect(plughost_session_attach(null(), 0, &mut session), PLUGHOST_ERR_IPC_SETUP, HANDOFF_ENV);

        expect(plughost_session_status(null()), PLUGHOST_ERR_NULL_ARGUMENT, "session is NULL");
        expect(plughost_session_serve(null(), 1), PLUGHOST_ERR_NULL_ARGUMENT, "session");
        expect(plughost_session_serve_in_background(null()), PLUGHOST_ERR_NULL_ARGUMENT, "session");
        expect(plughost_session_close(null()), PLUGHOST_ERR_NULL_ARGUMENT, "session");
        expect(plughost_session_stats_json(null(), &mut out), PLUGHOST_ERR_NULL_ARGUMENT, "session");
        expect(plughost_session_peer_registry_json(null(), 1, &mut out), PLUGHOST_ERR_NULL_ARGUMENT, "session");

        let (op, ol) = s(r#"{"RingCapacity": 65536, "SlotClasses": [{"Size": 4096, "Count": 4}]}"#);
        expect(plughost_session_create(op, ol, &mut session), PLUGHOST_OK, "");
        let (pp, pl) = s("/no/such/program");
        expect(plughost_session_spawn(session, pp, pl, null(), 0, null_mut()), PLUGHOST_ERR_IPC_SETUP, "spawning");
        expect(plughost_session_spawn(session, pp, pl, null(), 0, null_mut()), PLUGHOST_ERR_IPC_SETUP, "spawning");
        let (name, nl) = s("svc");
        expect(
            plughost_session_register(session, 0, name, nl, Some(host_service), null_mut(), None),
            PLUGHOST_ERR_INVALID_ARGUMENT,
            "control channel",
        );
        expect(
            plughost_session_register(session, 1, name, nl, None, counter(&DESTROYED), Some(count_destroy)),
            PLUGHOST_ERR_NULL_ARGUMENT,
            "handler",
        );
        expect(
            plughost_session_register(session, 1, null(), 0, Some(host_service), null_mut(), None),
            PLUGHOST_ERR_NULL_ARGUMENT,
            "service",
        );
        assert_eq!(DESTROYED.load(SeqCst), 1, "a failed registration destroys its user data at once");
        expect(plughost_session_on_event(session, 7, None, null_mut(), None), PLUGHOST_ERR_NULL_ARGUMENT, "callback");
        expect(plughost_session_unregister(session, 1, name, nl), PLUGHOST_ERR_SERVICE_NOT_FOUND, "svc");
        let (tp, tl) = s("t");
        let big = vec![0u8; 5000];
        expect(
            plughost_session_publish(session, 1, tp, tl, big.as_ptr(), big.len(), 10),
            PLUGHOST_ERR_IPC_TOO_LARGE,
            "larger than the largest slot",
        );
        let (method, ml) = s("m");
        expect(
            plughost_session_call(session, 1, name, nl, method, ml, null(), 0, 1, null_mut()),
            PLUGHOST_ERR_NULL_ARGUMENT,
            "out_result",
        );
        expect(
            plughost_session_call(session, 1, name, nl, method, ml, null(), 0, 50, &mut out),
            PLUGHOST_ERR_IPC_TIMEOUT,
            "deadline",
        );
        expect(plughost_session_serve(session, 10), PLUGHOST_OK, "");
        expect(plughost_session_peer_registry_json(session, 10, null_mut()), PLUGHOST_ERR_NULL_ARGUMENT, "out_json");
        let (ap, al) = s("[1]");
        expect(
            plughost_session_spawn(session, pp, pl, ap, al, null_mut()),
            PLUGHOST_ERR_INVALID_ARGUMENT,
            "JSON array of strings",
        );
        plughost_session_free(session);
        expect(
            plughost_session_call(session, 1, name, nl, method, ml, null(), 0, 1, &mut out),
            PLUGHOST_ERR_INVALID_HANDLE,
            "freed",
        );
    }
}
