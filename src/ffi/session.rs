//! `plughost_session`: both peers of a shared-memory IPC session, so that a C or C++ program (or
//! C#, or Python) can be peer A, which creates the session and starts the child, or peer B, the
//! child, which attaches to it.
//!
//! Peer A: `plughost_session_create`, `plughost_session_spawn`. Peer B:
//! `plughost_session_attach`. Both: call, publish, register, on_event, serve, status, stats,
//! close, free. Sessions are Linux-only for now: elsewhere the functions exist and create and
//! attach fail with `PLUGHOST_ERR_IPC_SETUP` (see `ipc/session_unsupported.rs`).

use super::args;
use super::boundary::status;
use super::buffer::{self, plughost_buffer};
use super::handle::Handle;
use super::host_table::OutputSink;
use super::user_data::{plughost_destroy_callback, UserData};
use crate::config::IpcSettings;
use crate::error::{Error, ErrorKind, Result};
use crate::ipc::session::{ChildHandoff, Handler, Session};
use crate::status::{PLUGHOST_ERR_SERVICE_FAILED, PLUGHOST_OK};
use parking_lot::Mutex;
use std::ffi::c_void;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `channel` value of `plughost_session_on_event`: the handler of every channel without one of
/// its own.
pub const PLUGHOST_SESSION_EVERY_CHANNEL: u32 = 0;
/// The data channel calls, events and services use by default (0 is the control channel).
pub const PLUGHOST_SESSION_DATA_CHANNEL: u32 = 1;

/// How long freeing a session waits for its child to exit after the goodbye before killing it.
const CHILD_EXIT_GRACE: Duration = Duration::from_secs(2);

/// An opaque IPC session (one peer's side). Created by `plughost_session_create` (peer A) or
/// `plughost_session_attach` (peer B); freed by `plughost_session_free`.
///
/// Every function taking a `const plughost_session*` may be called from any thread,
/// concurrently. After `plughost_session_free` the pointer stays safe to pass: calls fail with
/// `PLUGHOST_ERR_INVALID_HANDLE` (16 bytes are kept for this). A pointer that never came from
/// plughost is undefined behaviour.
pub struct plughost_session(Handle<PeerSession>);

/// A session handler: `method` (UTF-8) and `input` are valid only during the call. Write the
/// answer with `plughost_output_write` and return `PLUGHOST_OK`; or set a message with
/// `plughost_output_set_error` and return a `PLUGHOST_ERR_*` status (other non-zero values are
/// sent as `PLUGHOST_ERR_SERVICE_FAILED`); the caller then gets
/// `PLUGHOST_ERR_IPC_REMOTE_FAILED` with that status and message. Runs on the thread that reads
/// the request (a serving thread, or a thread waiting for its own call), possibly on several
/// threads at once; it may call the peer through the same session (nested calls).
pub type plughost_session_handler = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        method: *const u8,
        method_len: usize,
        input: *const u8,
        input_len: usize,
        output: *mut OutputSink,
    ) -> i32,
>;

/// A session event callback: `topic` (UTF-8) and `payload` are valid only during the call.
/// Events are delivered in arrival order by the thread that reads them.
pub type plughost_session_event_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        topic: *const u8,
        topic_len: usize,
        payload: *const u8,
        payload_len: usize,
    ),
>;

/// One side of a session, with the child it started (peer A).
pub(crate) struct PeerSession {
    session: Session,
    handoff: Mutex<Option<ChildHandoff>>,
    child: Mutex<Option<Child>>,
}

impl Drop for PeerSession {
    /// Close the session (the peer gets a goodbye), then give the child [`CHILD_EXIT_GRACE`] to
    /// exit before it is killed, and reap it.
    fn drop(&mut self) {
        self.session.close();
        if let Some(mut child) = self.child.get_mut().take() {
            let deadline = Instant::now() + CHILD_EXIT_GRACE;
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if matches!(child.try_wait(), Ok(None)) {
                tracing::warn!(pid = child.id(), "the IPC peer did not exit after the goodbye; killing it");
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

fn new_handle(session: Session, handoff: Option<ChildHandoff>) -> *mut plughost_session {
    let peer = PeerSession { session, handoff: Mutex::new(handoff), child: Mutex::new(None) };
    Box::into_raw(Box::new(plughost_session(Handle::new(peer))))
}

/// The live session behind `session`.
///
/// # Safety
/// `session` is NULL or came from `plughost_session_create` / `plughost_session_attach`.
unsafe fn live(session: *const plughost_session) -> Result<Arc<PeerSession>> {
    // SAFETY: the caller's contract; handles are never deallocated.
    Handle::get(unsafe { session.as_ref() }.map(|s| &s.0), "session")
}

/// Create or attach a session with `make` from the IPC settings in `options` (a JSON object, see
/// `plughost_session_create`) and write its handle to `out_session`.
///
/// # Safety
/// `options` valid for `options_len` bytes; `out_session` valid for a write.
unsafe fn open(
    options: *const u8,
    options_len: usize,
    out_session: *mut *mut plughost_session,
    make: impl FnOnce(IpcSettings) -> Result<(Session, Option<ChildHandoff>)>,
) -> i32 {
    status(|| {
        let out = args::out(out_session, "out_session")?;
        // SAFETY: the caller's contract.
        let settings = IpcSettings::from_json(unsafe { args::text(options, options_len, "options")? })?;
        let (session, handoff) = make(settings)?;
        // SAFETY: checked out-pointer.
        unsafe { args::write(out, new_handle(session, handoff)) };
        Ok(())
    })
}

fn millis(timeout_ms: u32) -> Duration {
    Duration::from_millis(u64::from(timeout_ms))
}

/// Peer A: create a session over a new shared-memory segment and write it to `out_session`.
/// Start the peer with `plughost_session_spawn`.
///
/// `options` is a JSON object (UTF-8; NULL or empty for the defaults) with the keys of the host
/// configuration's `PlugHost.Ipc` section: `RingCapacity`, `InlineMax`, `SlotClasses` (an array
/// of `{"Size": bytes, "Count": slots}`), `HeartbeatIntervalMs`, `HeartbeatTimeoutMs`,
/// `ConnectTimeoutMs`, `ReplyTimeoutMs`, `SpinCount`. Peer B must attach with the same geometry.
///
/// Errors: `INVALID_CONFIG` (every problem of the options at once), `IPC_SETUP`.
///
/// # Safety
/// `options` valid for `options_len` bytes; `out_session` valid for a write.
///
/// Threads: any. Free the session with `plughost_session_free`.
#[no_mangle]
pub unsafe extern "C" fn plughost_session_create(
    options: *const u8,
    options_len: usize,
    out_session: *mut *mut plughost_session,
) -> i32 {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        open(options, options_len, out_session, |s| {
            let (session, handoff) = Session::create_with(&s.geometry, s.session)?;
            Ok((session, Some(handoff)))
        })
    }
}

/// Peer A: start the peer process `program` (UTF-8 path, searched in `PATH` when it has no
/// slash) with the arguments in `args_json` (a JSON array of strings; NULL or empty for none),
/// handing it the session; write its process id to `out_pid` (may be NULL). The child inherits
/// standard input, output and error and attaches with `plughost_session_attach`. Once per
/// session. The session watches the child: its exit fails every call in flight with
/// `PLUGHOST_ERR_IPC_PEER_DEAD`. Freeing the session says goodbye, waits up to 2 s for the
/// child to exit, then kills it; either way the child is reaped.
///
/// Errors: `INVALID_ARGUMENT` (bad `args_json`, a second spawn, or a session made by attach),
/// `IPC_SETUP` (the program could not be started; the spawn may be tried again).
///
/// # Safety
/// `session` from `plughost_session_create`; `program` and `args_json` valid for their lengths;
/// `out_pid` NULL or valid for a write.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_session_spawn(
    session: *const plughost_session,
    program: *const u8,
    program_len: usize,
    args_json: *const u8,
    args_json_len: usize,
    out_pid: *mut u32,
) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let (peer, program, arguments) = unsafe {
            (
                live(session)?,
                args::name(program, program_len, "program")?,
                args::text(args_json, args_json_len, "args_json")?,
            )
        };
        let arguments: Vec<String> = if arguments.trim().is_empty() {
            Vec::new()
        } else {
            serde_json::from_str(arguments).map_err(|e| {
                Error::new(ErrorKind::InvalidArgument, format!("args_json is not a JSON array of strings: {e}"))
            })?
        };
        let mut handoff = peer.handoff.lock();
        let prepared = handoff.as_ref().ok_or_else(|| {
            Error::new(ErrorKind::InvalidArgument, "this session has started its peer already, or was attached")
        })?;
        let mut command = Command::new(program);
        command.args(&arguments);
        prepared.prepare(&mut command)?;
        // A failed start leaves the hand-off in place, so that it can be tried again.
        let child = command.spawn().map_err(|e| {
            Error::new(ErrorKind::IpcSetup, format!("the IPC session could not be set up: spawning {program}: {e}"))
        })?;
        let watched = prepared.watch(&child);
        *handoff = None;
        *peer.child.lock() = Some(child);
        watched?;
        if !out_pid.is_null() {
            let pid = peer.child.lock().as_ref().map_or(0, Child::id);
            // SAFETY: the caller's contract for a non-NULL `out_pid`.
            unsafe { args::write(out_pid, pid) };
        }
        Ok(())
    })
}

/// Peer B: attach to the session the parent handed over when it started this process (see
/// `plughost_session_spawn`) and write it to `out_session`. `options` as for
/// `plughost_session_create`, with the parent's geometry. The session watches the parent: its
/// exit fails every call in flight with `PLUGHOST_ERR_IPC_PEER_DEAD`.
///
/// Errors: `INVALID_CONFIG`, `IPC_SETUP` (no session was handed over, or the geometry differs).
///
/// # Safety
/// `options` valid for `options_len` bytes; `out_session` valid for a write.
///
/// Threads: any. Free the session with `plughost_session_free`.
#[no_mangle]
pub unsafe extern "C" fn plughost_session_attach(
    options: *const u8,
    options_len: usize,
    out_session: *mut *mut plughost_session,
) -> i32 {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        open(options, options_len, out_session, |s| Ok((Session::attach_from_env_with(&s.geometry, s.session)?, None)))
    }
}

/// Call `service`.`method` (UTF-8) with `payload` on data channel `channel` of the peer, waiting
/// at most `timeout_ms`; the answer goes to a new buffer in `out_result`. While it waits, this
/// thread serves the peer's requests (nested calls).
///
/// Errors: `INVALID_ARGUMENT` (channel 0), `SERVICE_NOT_FOUND` (no such service on that channel),
/// `IPC_REMOTE_FAILED` (the peer's handler failed: its status and message in the last error),
/// `IPC_TIMEOUT`, `IPC_PEER_DEAD`, `IPC_CLOSED`, `IPC_MALFORMED`, `IPC_TOO_LARGE`,
/// `IPC_INCOMPATIBLE`.
///
/// # Safety
/// `session` from plughost; `service`, `method` and `payload` valid for their lengths;
/// `out_result` valid for a write.
///
/// Threads: any, any number at once.
#[no_mangle]
pub unsafe extern "C" fn plughost_session_call(
    session: *const plughost_session,
    channel: u32,
    service: *const u8,
    service_len: usize,
    method: *const u8,
    method_len: usize,
    payload: *const u8,
    payload_len: usize,
    timeout_ms: u32,
    out_result: *mut plughost_buffer,
) -> i32 {
    status(|| {
        let out = args::out(out_result, "out_result")?;
        // SAFETY: the caller's contract.
        let (peer, service, method, payload) = unsafe {
            (
                live(session)?,
                args::name(service, service_len, "service")?,
                args::name(method, method_len, "method")?,
                args::bytes(payload, payload_len, "payload")?,
            )
        };
        let answer = peer.session.call_on(channel, service, method, payload, millis(timeout_ms))?;
        // SAFETY: checked out-pointer.
        unsafe { buffer::store_into(out, answer) }
    })
}

/// Send a one-way event `topic` (UTF-8) with `payload` on data channel `channel`, waiting at most
/// `timeout_ms` for room when the peer keeps the ring or slots full (nothing is dropped).
///
/// Errors: `INVALID_ARGUMENT` (channel 0), `IPC_TIMEOUT`, `IPC_PEER_DEAD`, `IPC_CLOSED`,
/// `IPC_TOO_LARGE`.
///
/// # Safety
/// `session` from plughost; `topic` and `payload` valid for their lengths.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_session_publish(
    session: *const plughost_session,
    channel: u32,
    topic: *const u8,
    topic_len: usize,
    payload: *const u8,
    payload_len: usize,
    timeout_ms: u32,
) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let (peer, topic, payload) = unsafe {
            (live(session)?, args::name(topic, topic_len, "topic")?, args::bytes(payload, payload_len, "payload")?)
        };
        peer.session.publish_on(channel, topic, payload, millis(timeout_ms)).map_err(Error::from)
    })
}

/// The Rust handler around a C one.
fn c_handler(
    callback: unsafe extern "C" fn(*mut c_void, *const u8, usize, *const u8, usize, *mut OutputSink) -> i32,
    user: UserData,
) -> Handler {
    Arc::new(move |method: &str, input: &[u8]| {
        let mut sink = OutputSink::default();
        // SAFETY: the application registered `callback` for this signature; the method, the
        // input and the sink are valid for the call.
        let code =
            unsafe { callback(user.get(), method.as_ptr(), method.len(), input.as_ptr(), input.len(), &mut sink) };
        handler_answer(code, sink)
    })
}

/// A C handler's answer from its return code and what it wrote: the bytes on `PLUGHOST_OK`, else
/// the status (an unknown number becomes `SERVICE_FAILED`) and the message.
pub(super) fn handler_answer(code: i32, sink: OutputSink) -> std::result::Result<Vec<u8>, (i32, String)> {
    if code == PLUGHOST_OK {
        return Ok(sink.data);
    }
    let status = if ErrorKind::from_code(code).is_some() { code } else { PLUGHOST_ERR_SERVICE_FAILED };
    Err((status, sink.error.unwrap_or_else(|| format!("the handler returned {code}"))))
}

/// Serve `service` (UTF-8) on data channel `channel`: the peer's calls of it on that channel run
/// `handler` (see `plughost_session_handler`). Registering a name again replaces the handler.
/// `destroy_user_data` (may be NULL) runs once the handler is replaced or unregistered, or the
/// session freed, and no call uses it.
///
/// Errors: `INVALID_ARGUMENT` (channel 0, empty name), `NULL_ARGUMENT`. plughost owns
/// `user_data` from this call on, even when it fails: on failure `destroy_user_data` runs before
/// the call returns.
///
/// # Safety
/// `session` from plughost; `service` valid for `service_len` bytes; the handler and user data
/// stay valid until destroyed.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_session_register(
    session: *const plughost_session,
    channel: u32,
    service: *const u8,
    service_len: usize,
    handler: plughost_session_handler,
    user_data: *mut c_void,
    destroy_user_data: plughost_destroy_callback,
) -> i32 {
    let user = UserData::new(user_data, destroy_user_data);
    status(move || {
        // SAFETY: the caller's contract.
        let (peer, service) = unsafe { (live(session)?, args::name(service, service_len, "service")?) };
        let callback = handler.ok_or_else(|| Error::new(ErrorKind::NullArgument, "handler is NULL"))?;
        peer.session.register_on(channel, service, &[], c_handler(callback, user))?;
        Ok(())
    })
}

/// Stop serving `service` on `channel`. Calls in flight finish; then its `destroy_user_data`
/// runs. Errors: `SERVICE_NOT_FOUND` when it was not registered there.
///
/// # Safety
/// `session` from plughost; `service` valid for `service_len` bytes.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_session_unregister(
    session: *const plughost_session,
    channel: u32,
    service: *const u8,
    service_len: usize,
) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let (peer, service) = unsafe { (live(session)?, args::name(service, service_len, "service")?) };
        if peer.session.unregister_on(channel, service) {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::ServiceNotFound, format!("no service \"{service}\" on channel {channel}")))
        }
    })
}

/// Set the handler of the peer's events on data channel `channel`, or with
/// `PLUGHOST_SESSION_EVERY_CHANNEL` (0) on every channel without a handler of its own. Setting
/// it again replaces it; the old `destroy_user_data` runs once no delivery uses it, the last one
/// when the session is freed.
///
/// plughost owns `user_data` from this call on, even when it fails.
///
/// # Safety
/// `session` from plughost; the callback and user data stay valid until destroyed.
///
/// Threads: any; the callback runs on the thread that reads the event.
#[no_mangle]
pub unsafe extern "C" fn plughost_session_on_event(
    session: *const plughost_session,
    channel: u32,
    callback: plughost_session_event_callback,
    user_data: *mut c_void,
    destroy_user_data: plughost_destroy_callback,
) -> i32 {
    let user = UserData::new(user_data, destroy_user_data);
    status(move || {
        // SAFETY: the caller's contract.
        let peer = unsafe { live(session)? };
        let callback = callback.ok_or_else(|| Error::new(ErrorKind::NullArgument, "callback is NULL"))?;
        let handler = Arc::new(move |topic: &str, payload: &[u8]| {
            // SAFETY: registered by the application for this signature; slices valid for the call.
            unsafe { callback(user.get(), topic.as_ptr(), topic.len(), payload.as_ptr(), payload.len()) }
        });
        if channel == PLUGHOST_SESSION_EVERY_CHANNEL {
            peer.session.on_event(move |topic, payload| handler(topic, payload));
            Ok(())
        } else {
            peer.session.on_channel_event(channel, handler).map_err(Error::from)
        }
    })
}

/// Serve the peer's requests and events on this thread for `timeout_ms`: `PLUGHOST_OK` when the
/// time is up, the session's ending status (e.g. `IPC_CLOSED` after the peer's goodbye,
/// `IPC_PEER_DEAD`) as soon as it ends. Peer B's run loop calls this until it fails.
///
/// # Safety
/// `session` from plughost.
///
/// Threads: any; several threads may serve at once (one reads, the others wait their turn).
#[no_mangle]
pub unsafe extern "C" fn plughost_session_serve(session: *const plughost_session, timeout_ms: u32) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let peer = unsafe { live(session)? };
        peer.session.serve(Instant::now() + millis(timeout_ms)).map_err(Error::from)
    })
}

/// Serve on a background thread of plughost's until the session ends (once; later calls do
/// nothing).
///
/// # Safety
/// `session` from plughost.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_session_serve_in_background(session: *const plughost_session) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        unsafe { live(session)? }.session.serve_in_background().map_err(Error::from)
    })
}

/// `PLUGHOST_OK` while the session works, else the status that ended it (its message in the
/// last error): `IPC_CLOSED`, `IPC_PEER_DEAD`, `IPC_MALFORMED`, `IPC_INCOMPATIBLE`.
///
/// # Safety
/// `session` from plughost.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_session_status(session: *const plughost_session) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        unsafe { live(session)? }.session.status().map_err(Error::from)
    })
}

/// The session's figures as JSON in a new buffer: `{"open", "side" ("a" or "b"), "peer_pid",
/// "calls_in_flight", "stats": {calls, requests_served, events_sent, events_received,
/// inline_sent, slot_sent, ring_full_waits, pool_full_waits, malformed, stray_answers,
/// reply_failures, ring_out, ring_in, slots_out, slots_in}}`.
///
/// # Safety
/// `session` from plughost; `out_json` valid for a write.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_session_stats_json(
    session: *const plughost_session,
    out_json: *mut plughost_buffer,
) -> i32 {
    status(|| {
        let out = args::out(out_json, "out_json")?;
        // SAFETY: the caller's contract.
        let peer = unsafe { live(session)? };
        let s = &peer.session;
        let json = serde_json::json!({
            "open": s.status().is_ok(),
            "side": if s.is_creator() { "a" } else { "b" },
            "peer_pid": peer.child.lock().as_ref().map_or(s.creator_pid(), Child::id),
            "calls_in_flight": s.calls_in_flight(),
            "stats": s.stats(),
        });
        // SAFETY: checked out-pointer.
        unsafe { buffer::store_into(out, json.to_string().into_bytes()) }
    })
}

/// Ask the peer for the services it offers, waiting at most `timeout_ms`; the registry as JSON in
/// a new buffer: `{"services": [{"id", "channel", "name", "methods": [{"id", "name", "kind"}]}]}`.
///
/// # Safety
/// `session` from plughost; `out_json` valid for a write.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_session_peer_registry_json(
    session: *const plughost_session,
    timeout_ms: u32,
    out_json: *mut plughost_buffer,
) -> i32 {
    status(|| {
        let out = args::out(out_json, "out_json")?;
        // SAFETY: the caller's contract.
        let registry = unsafe { live(session)? }.session.peer_registry(millis(timeout_ms))?;
        let json = serde_json::to_vec(&registry).map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
        // SAFETY: checked out-pointer.
        unsafe { buffer::store_into(out, json) }
    })
}

/// Close the session: the peer gets a goodbye, calls in flight fail with `IPC_CLOSED`, serving
/// threads return. The handle stays valid until `plughost_session_free`. Idempotent.
///
/// # Safety
/// `session` from plughost.
///
/// Threads: any (not from inside one of this session's handlers).
#[no_mangle]
pub unsafe extern "C" fn plughost_session_close(session: *const plughost_session) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        unsafe { live(session)? }.session.close();
        Ok(())
    })
}

/// Close and free the session; a child started by `plughost_session_spawn` gets 2 s to exit and
/// is then killed, and is reaped. Handlers' and event callbacks' `destroy_user_data` run once no
/// call uses them. NULL and a freed session are ignored. The pointer stays safe to pass: later
/// calls fail with `INVALID_HANDLE`.
///
/// # Safety
/// `session` NULL or from plughost.
///
/// Threads: any (not from inside one of this session's handlers).
#[no_mangle]
pub unsafe extern "C" fn plughost_session_free(session: *mut plughost_session) {
    super::boundary::infallible((), || {
        // SAFETY: the caller's contract; handles are never deallocated.
        if let Some(peer) = unsafe { session.as_ref() }.and_then(|s| s.0.take()) {
            peer.session.close();
            drop(peer);
        }
    })
}
