//! Sessions: RPC, events and liveness between peer A (the host, which creates the segment and
//! starts the child) and peer B (the plugin or worker process, which attaches).
//!
//! A [`Session`] owns its segment, its outgoing ring producer and slot pool, its incoming ring
//! consumer, the wake-up words, the calls in flight and the services it offers:
//!
//! - [`Session::call`] sends a request (inline when the encoded message fits the geometry's
//!   inline limit, else through a slot) and waits for the answer; any number of threads may call
//!   at once. [`Session::publish`] sends a one-way event. A full ring or pool parks the sender
//!   until its deadline: nothing is dropped.
//! - Channel 0 is the control channel (hello with the protocol version, heartbeats, goodbye,
//!   the registry); calls, events and services live on data channels, 1 ([`DATA_CHANNEL`]) unless
//!   one is named (`call_on`, `publish_on`, `register_on`, `on_channel_event`). A service serves
//!   the channel it was registered on only. A peer whose hello names another protocol version
//!   ends the session with [`IpcError::Incompatible`].
//! - [`Session::register`] installs a service's handler, [`Session::on_event`] the event handler;
//!   [`Session::registry`] describes the services, and the peer can ask for them
//!   ([`Session::peer_registry`]).
//! - Receiving follows the leader/follower pattern (see `receive.rs`): one thread at a time reads,
//!   and a caller waiting for its answer serves the peer's requests meanwhile, so calls nest in
//!   both directions. [`Session::serve`] (peer B's run loop) or [`Session::serve_in_background`]
//!   reads while nobody calls.
//! - Liveness (see `liveness.rs`): the peer's process exit (a pidfd on Linux, a process handle on
//!   Windows) first, a heartbeat in the header as the backstop. A dead peer fails every call in
//!   flight at once with [`IpcError::PeerDead`], later operations too, and the slots are
//!   reclaimed.
//! - Every received frame and message is copied out, validated and decoded; malformed data is
//!   [`IpcError::Malformed`], a counted event that ends the session, never a panic.
//!
//! Built on Unix and Windows; the Windows parts (the process handle and wake event in
//! `liveness/windows.rs`, the hand-off in `handoff.rs`, and below this folder the segment's
//! semaphores and `wake/windows.rs`) are written against windows-sys 0.61 but not built or tested
//! here: verified only by reading. Elsewhere `session_unsupported.rs` stands in.
//!
//! Files: `inner.rs` (shared state, session state, reader role), `send.rs`, `receive.rs`,
//! `rpc.rs` (calls, events, serving), `pending.rs`, `services.rs`, `liveness.rs` (the heartbeat;
//! the process watch in `liveness/unix.rs` and `liveness/windows.rs`), `monitor.rs`,
//! `handoff.rs`, `memory.rs` (the rings over the segment), `wire.rs` (borrowed outgoing
//! messages), `hash.rs` (the tables' hash), `config.rs`, `stats.rs`, `error.rs`.
//!
//! ```no_run
//! use plughost::ipc::layout::Geometry;
//! use plughost::ipc::session::Session;
//! use std::time::Duration;
//!
//! // Peer A.
//! let (session, handoff) = Session::create(&Geometry::default()).unwrap();
//! session.register("host", |method, payload| Ok([method.as_bytes(), payload].concat()));
//! let child = handoff.spawn(&mut std::process::Command::new("plugin")).unwrap();
//! let answer = session.call("plugin", "run", b"args", Duration::from_secs(5));
//! # drop((answer, child));
//!
//! // Peer B (in the child).
//! let session = Session::attach_from_env(&Geometry::default()).unwrap();
//! session.register("plugin", |_, payload| Ok(payload.to_vec()));
//! while session.serve(std::time::Instant::now() + Duration::from_secs(1)).is_ok() {}
//! ```

mod config;
mod error;
mod handoff;
mod hash;
mod inner;
mod liveness;
mod memory;
mod monitor;
mod pending;
mod receive;
mod rpc;
mod send;
mod services;
mod stats;
#[cfg(test)]
mod tests;
mod wire;

pub use config::SessionConfig;
pub use error::IpcError;
#[cfg(target_os = "linux")]
pub use handoff::kill_with_parent;
pub use handoff::ChildHandoff;
pub use liveness::monotonic_ms;
pub use rpc::DATA_CHANNEL;
pub use services::{EventHandler, Handler, REGISTRY_METHOD, REGISTRY_SERVICE};
pub use stats::SessionStats;

use crate::ipc::layout::Geometry;
use crate::ipc::message::{MessageRef, MethodKind, Registry, CONTROL_CHANNEL, PROTOCOL_VERSION};
use crate::ipc::segment::Segment;
use inner::Inner;
use parking_lot::Mutex;
use send::Deadline;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One side of an IPC session. Dropping it closes the session (the peer gets a goodbye).
#[derive(Debug)]
pub struct Session {
    inner: Arc<Inner>,
    monitor: Mutex<Option<JoinHandle<()>>>,
    server: Mutex<Option<(JoinHandle<()>, Arc<AtomicBool>)>>,
}

/// A weak handle for handlers that call back into their own session (a [`Session`] captured by
/// its own handler would never close). Fails with [`IpcError::Closed`] once the session is gone.
#[derive(Clone, Debug)]
pub struct SessionHandle {
    inner: Weak<Inner>,
}

fn setup(e: impl std::fmt::Display) -> IpcError {
    IpcError::Setup(e.to_string())
}

impl Session {
    /// Peer A: create a session with a new segment for `geometry`, and the hand-off that lets
    /// the child attach.
    pub fn create(geometry: &Geometry) -> Result<(Session, ChildHandoff), IpcError> {
        Self::create_with(geometry, SessionConfig::default())
    }

    /// [`Session::create`] with explicit settings.
    pub fn create_with(geometry: &Geometry, config: SessionConfig) -> Result<(Session, ChildHandoff), IpcError> {
        let segment = Segment::create(geometry).map_err(setup)?;
        let session = Self::start(segment, config)?;
        let handoff = ChildHandoff::new(Arc::downgrade(&session.inner));
        Ok((session, handoff))
    }

    /// Peer B: attach to the segment the parent handed over (environment variable
    /// [`HANDOFF_ENV`](crate::ipc::segment::HANDOFF_ENV)), checked against the local
    /// `geometry`, and watch the creator's process.
    pub fn attach_from_env(geometry: &Geometry) -> Result<Session, IpcError> {
        Self::attach_from_env_with(geometry, SessionConfig::default())
    }

    /// [`Session::attach_from_env`] with explicit settings.
    pub fn attach_from_env_with(geometry: &Geometry, config: SessionConfig) -> Result<Session, IpcError> {
        let segment = Segment::attach_from_env(geometry).map_err(setup)?;
        let creator = handoff::creator_pid(&segment)?;
        let session = Self::start(segment, config)?;
        session.inner.liveness.watch(creator, false)?;
        Ok(session)
    }

    /// Both sides in this process, over a real segment (for tests and benchmarks between threads).
    pub fn pair(geometry: &Geometry) -> Result<(Session, Session), IpcError> {
        Self::pair_with(geometry, SessionConfig::default())
    }

    /// [`Session::pair`] with explicit settings.
    pub fn pair_with(geometry: &Geometry, config: SessionConfig) -> Result<(Session, Session), IpcError> {
        let a = Segment::create(geometry).map_err(setup)?;
        let b = a.attach_again(geometry).map_err(setup)?;
        let (a, b) = (Self::start(a, config.clone())?, Self::start(b, config)?);
        for side in [&a, &b] {
            side.inner.liveness.watch(std::process::id(), false)?;
        }
        Ok((a, b))
    }

    /// Start the session over `segment`: the monitor thread, then the hello (this side's first
    /// message, which the peer checks for its protocol version).
    fn start(segment: Segment, config: SessionConfig) -> Result<Session, IpcError> {
        let inner = Inner::new(segment, config)?;
        let monitor = monitor::spawn(Arc::downgrade(&inner))?;
        let session = Session { inner, monitor: Mutex::new(Some(monitor)), server: Mutex::new(None) };
        let hello = MessageRef::Hello { version: PROTOCOL_VERSION, pid: std::process::id() };
        session.inner.send(&hello, &mut Deadline::After(session.inner.config.connect_timeout))?;
        Ok(session)
    }

    /// Call `service`.`method` with `payload` on the peer's [`DATA_CHANNEL`]; the answer's bytes,
    /// or why not, within `timeout`. Safe from any number of threads at once, and from inside
    /// handlers.
    pub fn call(&self, service: &str, method: &str, payload: &[u8], timeout: Duration) -> Result<Vec<u8>, IpcError> {
        self.inner.call(DATA_CHANNEL, service, method, payload, timeout)
    }

    /// [`Session::call`] on data channel `channel` (1 and up; 0 is
    /// [`IpcError::InvalidArgument`]).
    pub fn call_on(
        &self,
        channel: u32,
        service: &str,
        method: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, IpcError> {
        self.inner.call(rpc::data_channel(channel)?, service, method, payload, timeout)
    }

    /// [`Session::call_on`], running `while_waiting` at least every millisecond while another
    /// thread of this side reads for the caller (when the caller reads itself, it handles the
    /// peer's requests inline). A host's main thread uses it to run the main-thread services the
    /// peer asks for meanwhile.
    pub fn call_while_waiting(
        &self,
        channel: u32,
        service: &str,
        method: &str,
        payload: &[u8],
        timeout: Duration,
        while_waiting: &dyn Fn(),
    ) -> Result<Vec<u8>, IpcError> {
        self.inner.call_with(rpc::data_channel(channel)?, service, method, payload, timeout, Some(while_waiting))
    }

    /// Send a one-way event on the [`DATA_CHANNEL`]; waits for room at most the configured reply
    /// timeout.
    pub fn publish(&self, topic: &str, payload: &[u8]) -> Result<(), IpcError> {
        self.inner.publish(DATA_CHANNEL, topic, payload, self.inner.config.reply_timeout)
    }

    /// Send a one-way event on the [`DATA_CHANNEL`], waiting for room at most `timeout`.
    pub fn publish_timeout(&self, topic: &str, payload: &[u8], timeout: Duration) -> Result<(), IpcError> {
        self.inner.publish(DATA_CHANNEL, topic, payload, timeout)
    }

    /// Send a one-way event on data channel `channel`, waiting for room at most `timeout`.
    pub fn publish_on(&self, channel: u32, topic: &str, payload: &[u8], timeout: Duration) -> Result<(), IpcError> {
        self.inner.publish(channel, topic, payload, timeout)
    }

    /// Register (or replace) `service` on the [`DATA_CHANNEL`]; returns its id. See [`Handler`].
    pub fn register<F>(&self, service: &str, handler: F) -> u32
    where
        F: Fn(&str, &[u8]) -> Result<Vec<u8>, (i32, String)> + Send + Sync + 'static,
    {
        self.inner.services.register(DATA_CHANNEL, service, &[], Arc::new(handler))
    }

    /// [`Session::register`] with the methods the registry lists for introspection.
    pub fn register_methods<F>(&self, service: &str, methods: &[(&str, MethodKind)], handler: F) -> u32
    where
        F: Fn(&str, &[u8]) -> Result<Vec<u8>, (i32, String)> + Send + Sync + 'static,
    {
        self.inner.services.register(DATA_CHANNEL, service, methods, Arc::new(handler))
    }

    /// Register (or replace) `service` with its methods on data channel `channel`: only calls on
    /// that channel reach it. Returns its id.
    pub fn register_on(
        &self,
        channel: u32,
        service: &str,
        methods: &[(&str, MethodKind)],
        handler: Handler,
    ) -> Result<u32, IpcError> {
        Ok(self.inner.services.register(rpc::data_channel(channel)?, service, methods, handler))
    }

    /// Remove `service` from the [`DATA_CHANNEL`]; whether it was registered.
    pub fn unregister(&self, service: &str) -> bool {
        self.inner.services.unregister(DATA_CHANNEL, service)
    }

    /// Remove `service` from data channel `channel`; whether it was registered.
    pub fn unregister_on(&self, channel: u32, service: &str) -> bool {
        self.inner.services.unregister(channel, service)
    }

    /// Set the handler of the peer's events, `(topic, payload)`, on every channel without a
    /// handler of its own. Events are handled in arrival order by the thread that reads them.
    pub fn on_event<F>(&self, handler: F)
    where
        F: Fn(&str, &[u8]) + Send + Sync + 'static,
    {
        self.inner.services.set_event_handler(None, Arc::new(handler));
    }

    /// Set the handler of the peer's events on data channel `channel`.
    pub fn on_channel_event(&self, channel: u32, handler: EventHandler) -> Result<(), IpcError> {
        self.inner.services.set_event_handler(Some(rpc::data_channel(channel)?), handler);
        Ok(())
    }

    /// The services this side offers.
    pub fn registry(&self) -> Registry {
        self.inner.services.registry()
    }

    /// The services the peer offers (the built-in [`REGISTRY_SERVICE`]).
    pub fn peer_registry(&self, timeout: Duration) -> Result<Registry, IpcError> {
        let bytes = self.inner.call(CONTROL_CHANNEL, REGISTRY_SERVICE, REGISTRY_METHOD, &[], timeout)?;
        postcard::from_bytes(&bytes).map_err(|e| IpcError::Malformed(format!("the peer's registry: {e}")))
    }

    /// Serve the peer's requests and events on this thread until `deadline`: `Ok` at the
    /// deadline, the session's error once it ends.
    pub fn serve(&self, deadline: Instant) -> Result<(), IpcError> {
        self.inner.serve_until(deadline, &AtomicBool::new(false))?;
        self.inner.check()
    }

    /// Serve on a background thread until the session closes (once; later calls do nothing).
    pub fn serve_in_background(&self) -> Result<(), IpcError> {
        let mut server = self.server.lock();
        if server.is_some() {
            return Ok(());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (inner, flag) = (self.inner.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("plughost-ipc-serve".into())
            .spawn(move || {
                while !flag.load(Ordering::Acquire) {
                    if inner.serve_until(Instant::now() + Duration::from_secs(1), &flag).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| IpcError::Setup(format!("starting the serving thread: {e}")))?;
        *server = Some((thread, stop));
        Ok(())
    }

    /// A weak handle for handlers (see [`SessionHandle`]).
    pub fn handle(&self) -> SessionHandle {
        SessionHandle { inner: Arc::downgrade(&self.inner) }
    }

    /// `Ok` while the session works, else the error that ended it.
    pub fn status(&self) -> Result<(), IpcError> {
        self.inner.check()
    }

    /// The counters.
    pub fn stats(&self) -> SessionStats {
        let inner = &self.inner;
        let mut stats = inner.counters.snapshot();
        stats.ring_out = inner.producer.lock().stats();
        // Every frame the session sends carries one message, inline or in a slot.
        stats.inline_sent = stats.ring_out.frames.saturating_sub(stats.slot_sent);
        stats.ring_in = inner.in_counters.snapshot();
        stats.slots_out = inner.out_pool.stats();
        stats.slots_in = inner.in_pool.stats();
        stats
    }

    /// Free slots per class of the outgoing pool (exact only while nothing is sent).
    pub fn outgoing_free_slots(&self) -> Vec<usize> {
        (0..self.inner.segment.geometry().classes.len())
            .map(|c| self.inner.out_pool.free_slots(c).unwrap_or(0))
            .collect()
    }

    /// Whether the slots were reclaimed after the peer died.
    pub fn slots_reclaimed(&self) -> bool {
        self.inner.reclaimed()
    }

    /// Whether this side created the session (peer A).
    pub fn is_creator(&self) -> bool {
        self.inner.side == 0
    }

    /// The process id of the side that created the session (peer A).
    pub fn creator_pid(&self) -> u32 {
        self.inner.segment.creator_pid()
    }

    /// The segment (for diagnostics and tests).
    pub fn segment(&self) -> &Segment {
        &self.inner.segment
    }

    /// Calls in flight.
    pub fn calls_in_flight(&self) -> usize {
        self.inner.pending.count()
    }

    /// Say goodbye to the peer (if the session still works), fail the calls in flight with
    /// [`IpcError::Closed`], and stop the serving and monitor threads. Also done on drop.
    pub fn close(&self) {
        if self.inner.is_open() {
            self.inner.begin_close();
            let goodbye = self.inner.send(&MessageRef::Goodbye, &mut Deadline::After(Duration::from_millis(100)));
            if let Err(e) = goodbye {
                tracing::debug!(error = %e, "no goodbye sent");
            }
            self.inner.fail(IpcError::Closed);
        }
        let current = std::thread::current().id();
        if let Some((thread, stop)) = self.server.lock().take() {
            stop.store(true, Ordering::Release);
            self.inner.wake_everyone();
            if thread.thread().id() != current {
                let _ = thread.join();
            }
        }
        if let Some(thread) = self.monitor.lock().take() {
            self.inner.liveness.wake();
            if thread.thread().id() != current {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}

impl SessionHandle {
    fn inner(&self) -> Result<Arc<Inner>, IpcError> {
        self.inner.upgrade().ok_or(IpcError::Closed)
    }

    /// [`Session::call`].
    pub fn call(&self, service: &str, method: &str, payload: &[u8], timeout: Duration) -> Result<Vec<u8>, IpcError> {
        self.inner()?.call(DATA_CHANNEL, service, method, payload, timeout)
    }

    /// [`Session::call_on`].
    pub fn call_on(
        &self,
        channel: u32,
        service: &str,
        method: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, IpcError> {
        self.inner()?.call(rpc::data_channel(channel)?, service, method, payload, timeout)
    }

    /// [`Session::publish_timeout`].
    pub fn publish(&self, topic: &str, payload: &[u8], timeout: Duration) -> Result<(), IpcError> {
        self.inner()?.publish(DATA_CHANNEL, topic, payload, timeout)
    }

    /// [`Session::publish_on`].
    pub fn publish_on(&self, channel: u32, topic: &str, payload: &[u8], timeout: Duration) -> Result<(), IpcError> {
        self.inner()?.publish(channel, topic, payload, timeout)
    }

    /// [`Session::status`].
    pub fn status(&self) -> Result<(), IpcError> {
        self.inner()?.check()
    }
}
