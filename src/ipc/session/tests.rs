//! Session tests that need the internals: a peer that speaks another protocol version, the space
//! notification a reader owes, one thread playing both sides of a call.

use super::send::Deadline;
use super::{IpcError, Session};
use crate::ipc::layout::Geometry;
use crate::ipc::message::MessageRef;
use crate::ipc::message::PROTOCOL_VERSION;
use crate::ipc::wake::Event;
use std::sync::atomic::Ordering;
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

#[test]
fn the_space_a_reader_frees_is_announced_at_once_to_a_parked_sender_or_when_the_role_is_released() {
    let (a, b) = Session::pair(&Geometry::default()).unwrap();
    b.publish("first", b"1").unwrap();
    b.publish("second", b"2").unwrap();
    let inner = &a.inner;
    // The waiters word of "space" on the ring a reads (B to A): a parked sender of B sets it.
    let offset = crate::ipc::wake::word_offset(inner.segment.layout(), 1 - inner.side, Event::Space).unwrap() + 4;
    let waiters = inner.segment.region().atomic_u32(offset).unwrap();
    let wakes = || inner.in_space.stats().wake_calls;
    let mut buffer = Vec::new();

    // Nobody waits: reading a frame owes the notification instead of paying it now.
    let role = inner.acquire_role().unwrap();
    assert!(inner.receive_one(&mut buffer).unwrap().is_some());
    assert!(inner.space_owed());
    assert_eq!(wakes(), 0);
    // A sender parks meanwhile; giving the role up pays what is owed, and wakes it.
    waiters.store(1, Ordering::SeqCst);
    drop(role);
    assert!(!inner.space_owed());
    assert_eq!(wakes(), 1);

    // A sender is parked already: the reader wakes it at once, owing nothing.
    let role = inner.acquire_role().unwrap();
    assert!(inner.receive_one(&mut buffer).unwrap().is_some());
    assert_eq!(wakes(), 2);
    assert!(!inner.space_owed());
    drop(role);
    assert_eq!(wakes(), 2);
    waiters.store(0, Ordering::SeqCst);
}

/// One thread plays both sides of a call, in turn: A sends the request holding its reader role,
/// B serves one round (its deadline has passed, so it reads what is there and returns), A reads
/// its answer. Every step of a busy round trip runs, on one thread and without any wait, so an
/// instruction count of this test is the software's cost per round trip (BENCHMARKS.md):
/// `PLUGHOST_TEST_ROUNDS=20000 valgrind --tool=callgrind <unit test binary> one_thread`.
#[test]
fn one_thread_plays_both_sides_of_calls_in_turn() {
    let rounds: u64 = std::env::var("PLUGHOST_TEST_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000);
    let (a, b) = Session::pair(&Geometry::default()).unwrap();
    b.register("bench", |_, payload| Ok(payload.to_vec()));
    let past = Instant::now();
    // A round whose answer does not come fails the test instead of hanging it.
    let far = past + Duration::from_secs(60);
    // B reads A's hello first; A reads B's hello with its first answer.
    b.serve(past).unwrap();
    for round in 0..rounds {
        let request = round.to_le_bytes().repeat(4);
        let role = a.inner.acquire_role().expect("nobody else reads for A");
        let message =
            MessageRef::Request { id: round + 1, channel: 1, service: "bench", method: "echo", payload: &request };
        a.inner.send(&message, &mut Deadline::After(Duration::from_secs(5))).unwrap();
        b.serve(past).unwrap();
        let answer = a.inner.await_own_answer(round + 1, far, &role).unwrap();
        assert_eq!(answer.as_deref(), Some(&request[..]), "round {round}");
    }
    assert_eq!(b.stats().requests_served, rounds);
}
