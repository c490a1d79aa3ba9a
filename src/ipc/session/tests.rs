//! Session tests that need the internals: a peer that speaks another protocol version.

use super::send::Deadline;
use super::wire::Outgoing;
use super::{IpcError, Session};
use crate::ipc::layout::Geometry;
use crate::ipc::message::PROTOCOL_VERSION;
use std::time::{Duration, Instant};

#[test]
fn a_hello_of_another_version_ends_the_session() {
    let (a, b) = Session::pair(&Geometry::default()).unwrap();
    let theirs = PROTOCOL_VERSION + 1;
    a.inner.send(&Outgoing::Hello { version: theirs, pid: 1 }, &mut Deadline::After(Duration::from_secs(5))).unwrap();
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
