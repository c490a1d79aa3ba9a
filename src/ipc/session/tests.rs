//! Session tests that need the internals: a peer that speaks another protocol version.

use super::send::Deadline;
use super::{IpcError, Session};
use crate::ipc::layout::Geometry;
use crate::ipc::message::MessageRef;
use crate::ipc::message::PROTOCOL_VERSION;
use std::time::{Duration, Instant};

#[test]
fn a_hello_of_another_version_ends_the_session() {
    let (a, b) = Session::pair(&Geometry::default()).unwrap();
    let theirs = PROTOCOL_VERSION + 1;
    a.inner.send(&MessageRef::Hello { version: theirs, pid: 1 }, &mut Deadline::After(Duration::from_secs(5))).unwrap();
    let served = b.serve(Instant::now() + Duration::from_secs(5));
    let expected = IpcError::Incompatible { ours: PROTOCOL_VERSION, theirs };
    assert_eq!(served, Err(expected.clone()));
    assert_eq!(b.call("s", "m", b"", Duration::from_secs(1)), Err(expected.clone()));
    assert_eq!(crate::Error::from(expected).kind(), crate::ErrorKind::IpcIncompatible);
}

#[test]
fn the_same_version_is_accepted() {
    let (a, b) = Session::pair(&Geometry::default()).unwrap();
    b.register("echo", |_, payload| Ok(payload.to_vec()));
    b.serve_in_background().unwrap();
    // Each side's hello was read before this answer.
    assert_eq!(a.call("echo", "m", b"x", Duration::from_secs(5)).unwrap(), b"x");
    assert!(a.status().is_ok() && b.status().is_ok());
}

#[test]
fn a_follower_runs_its_while_waiting_hook() {
    let (a, b) = Session::pair(&Geometry::default()).unwrap();
    b.register("svc", |method, payload| {
        if method == "slow" {
            std::thread::sleep(Duration::from_millis(300));
        }
        Ok(payload.to_vec())
    });
    b.serve_in_background().unwrap();
    let runs = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        // This caller reads for both while its slow answer is outstanding.
        let slow = s.spawn(|| a.call("svc", "slow", b"s", Duration::from_secs(5)));
        std::thread::sleep(Duration::from_millis(50));
        let hook = || {
            runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        };
        let answer = a.call_while_waiting(1, "svc", "fast", b"f", Duration::from_secs(5), &hook).unwrap();
        assert_eq!(answer, b"f");
        assert_eq!(slow.join().unwrap().unwrap(), b"s");
    });
    assert!(runs.load(std::sync::atomic::Ordering::Relaxed) > 0, "the hook ran while following");
    assert!(matches!(
        a.call_while_waiting(0, "svc", "fast", b"", Duration::from_secs(1), &|| ()),
        Err(IpcError::InvalidArgument(_))
    ));
}
