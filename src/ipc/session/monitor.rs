//! The liveness monitor: one thread per session that stores this side's heartbeat every interval
//! and ends the session the moment the peer's process exits (it blocks on the pidfd) or its
//! heartbeat stops.

use super::inner::Inner;
use super::IpcError;
use std::sync::Weak;
use std::thread::JoinHandle;

/// Start the monitor of `inner`; it ends when the session ends or is dropped.
pub(super) fn spawn(inner: Weak<Inner>) -> Result<JoinHandle<()>, IpcError> {
    std::thread::Builder::new()
        .name("plughost-ipc-liveness".into())
        .spawn(move || run(inner))
        .map_err(|e| IpcError::Setup(format!("starting the liveness monitor: {e}")))
}

fn run(weak: Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else {
            return;
        };
        if !inner.is_open() {
            return;
        }
        inner.liveness.beat(inner.segment.region());
        if let Some(why) = inner.liveness.check(inner.segment.region()) {
            inner.fail(IpcError::PeerDead(why));
            return;
        }
        let liveness = inner.liveness.clone();
        drop(inner);
        liveness.wait(liveness.interval());
    }
}
