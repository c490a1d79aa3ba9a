//! A session's settings besides the geometry.

use std::time::Duration;

/// How a session waits, beats and times out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// How often each side stores its heartbeat.
    pub heartbeat_interval: Duration,
    /// How long the peer's heartbeat may stay unchanged before the peer counts as dead. This is
    /// the backstop: the process check notices an exit within milliseconds, so the timeout is long
    /// enough that a peer descheduled on a loaded machine is not declared dead.
    pub heartbeat_timeout: Duration,
    /// How long the peer may take to start beating after it was handed the segment.
    pub connect_timeout: Duration,
    /// The deadline for sending a handler's answer (or an event from the serving side) while the
    /// peer keeps its ring or slot pool full.
    pub reply_timeout: Duration,
    /// Condition checks spent spinning before a waiter parks (see [`crate::ipc::wake::WaitPolicy`]).
    pub spin: u32,
}

impl Default for SessionConfig {
    /// Heartbeat every 100 ms, dead after 5 s without one, 10 s to connect, 10 s to send a reply,
    /// 2,000 spins.
    fn default() -> Self {
        SessionConfig {
            heartbeat_interval: Duration::from_millis(100),
            heartbeat_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            reply_timeout: Duration::from_secs(10),
            spin: 2000,
        }
    }
}
