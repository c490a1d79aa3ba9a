//! Wake-up tests: between threads, and between two processes sharing a memfd.

use super::*;
use crate::ipc::segment::tests::{finish, small_geometry, spawn_child, CHILD_ENV};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// The `i`-th u64 of slot 0 of class 0, direction 0: a word these tests own.
fn flag(segment: &Segment, i: usize) -> &AtomicU64 {
    segment.region().atomic_u64(segment.layout().pools[0][0].data + 8 * i).unwrap()
}

fn parking() -> WaitPolicy {
    WaitPolicy { spin: 0 }
}

/// Entry point of the children this module starts; does nothing in a normal test run.
#[test]
fn child_entry() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    let segment = Segment::attach_from_env(&small_geometry()).unwrap();
    let waiter = Waiter::new(&segment, 0, Event::Data).unwrap().with_policy(parking());
    let start = Instant::now();
    match mode.as_str() {
        "wait-notified" => {
            waiter
                .wait_until(|| flag(&segment, 0).load(Ordering::Acquire) == 1, start + Duration::from_secs(20))
                .unwrap();
        }
        "wait-timeout" => {
            let result = waiter
                .wait_until(|| flag(&segment, 0).load(Ordering::Acquire) == 1, start + Duration::from_millis(200));
            assert_eq!(result, Err(TimedOut));
            let elapsed = start.elapsed();
            assert!(elapsed >= Duration::from_millis(200) && elapsed < Duration::from_secs(5), "{elapsed:?}");
            assert_eq!(waiter.stats().timeouts, 1);
        }
        other => panic!("unknown child mode {other}"),
    }
    flag(&segment, 1).store(waiter.stats().parks, Ordering::Release);
}

#[test]
fn notify_without_a_waiter_makes_no_syscall() {
    let segment = Segment::create(&small_geometry()).unwrap();
    let signal = Signal::new(&segment, 0, Event::Data).unwrap();
    for _ in 0..1000 {
        signal.notify();
    }
    assert_eq!(signal.stats(), SignalStats { notifies: 1000, wake_calls: 0 });
    assert!(!signal.peer_waiting());
}

#[test]
fn a_condition_that_holds_needs_no_park() {
    let segment = Segment::create(&small_geometry()).unwrap();
    let waiter = Waiter::new(&segment, 1, Event::Space).unwrap();
    waiter.wait_until(|| true, Instant::now()).unwrap();
    assert_eq!(waiter.stats(), WaitStats { waits: 1, spun: 1, parks: 0, timeouts: 0 });
    let parked = Waiter::new(&segment, 1, Event::Space).unwrap().with_policy(parking());
    parked.wait_until(|| true, Instant::now()).unwrap();
    assert_eq!(parked.stats().parks, 0, "the condition is checked before parking");
}

#[test]
fn uncounted_halves_skip_the_per_call_counters_only() {
    let segment = Segment::create(&small_geometry()).unwrap();
    let signal = Signal::new(&segment, 0, Event::Data).unwrap().uncounted();
    signal.notify();
    assert_eq!(signal.stats(), SignalStats::default());
    let waiter = Waiter::new(&segment, 0, Event::Data).unwrap().uncounted().with_policy(parking());
    waiter.wait_until(|| true, Instant::now()).unwrap();
    let start = Instant::now();
    assert_eq!(waiter.wait_until(|| false, start + Duration::from_millis(20)), Err(TimedOut));
    let stats = waiter.stats();
    assert_eq!((stats.waits, stats.spun, stats.timeouts), (0, 0, 1), "{stats:?}");
}

#[test]
fn a_wait_with_nobody_notifying_times_out() {
    let segment = Segment::create(&small_geometry()).unwrap();
    let waiter = Waiter::new(&segment, 0, Event::Data).unwrap();
    let start = Instant::now();
    assert_eq!(waiter.wait_until(|| false, start + Duration::from_millis(50)), Err(TimedOut));
    assert!(start.elapsed() >= Duration::from_millis(50));
    let stats = waiter.stats();
    assert!(stats.parks >= 1 && stats.timeouts == 1, "{stats:?}");
    let waiters = segment.region().atomic_u32(word_offset(segment.layout(), 0, Event::Data).unwrap() + 4).unwrap();
    assert_eq!(waiters.load(Ordering::SeqCst), 0, "the waiter deregistered");
}

#[test]
fn the_words_lie_where_the_ring_leaves_room() {
    let layout = small_geometry().layout();
    assert_eq!(word_offset(&layout, 0, Event::Data), Some(layout.rings[0] + 8));
    assert_eq!(word_offset(&layout, 1, Event::Space), Some(layout.rings[1] + 64 + 8));
    assert_eq!(word_offset(&layout, 2, Event::Data), None);
    let segment = Segment::create(&small_geometry()).unwrap();
    assert_eq!(Waiter::new(&segment, 2, Event::Data).unwrap_err(), WakeError::BadDirection(2));
}

/// Ping-pong between two threads, parking on every wait: a lost wake-up would show as a timeout.
#[test]
fn threads_ping_pong_without_lost_wakeups() {
    const ROUNDS: u64 = 2000;
    for policy in [parking(), WaitPolicy::default()] {
        let segment = Segment::create(&small_geometry()).unwrap();
        let segment = &segment;
        let deadline = || Instant::now() + Duration::from_secs(20);
        std::thread::scope(|s| {
            s.spawn(move || {
                let ping = Waiter::new(segment, 0, Event::Data).unwrap().with_policy(policy);
                let pong = Signal::new(segment, 1, Event::Data).unwrap();
                for i in 1..=ROUNDS {
                    ping.wait_until(|| flag(segment, 0).load(Ordering::Acquire) >= i, deadline()).unwrap();
                    flag(segment, 1).store(i, Ordering::Release);
                    pong.notify();
                }
            });
            let ping = Signal::new(segment, 0, Event::Data).unwrap();
            let pong = Waiter::new(segment, 1, Event::Data).unwrap().with_policy(policy);
            for i in 1..=ROUNDS {
                flag(segment, 0).store(i, Ordering::Release);
                ping.notify();
                pong.wait_until(|| flag(segment, 1).load(Ordering::Acquire) >= i, deadline()).unwrap();
            }
            if policy.spin == 0 {
                assert!(pong.stats().parks > 0 && ping.stats().wake_calls > 0);
            }
        });
    }
}

#[test]
fn a_child_process_parks_until_the_parent_notifies() {
    let segment = Segment::create(&small_geometry()).unwrap();
    let signal = Signal::new(&segment, 0, Event::Data).unwrap();
    let child = spawn_child("ipc::wake::tests::child_entry", "wait-notified", &segment, &[]);
    let give_up = Instant::now() + Duration::from_secs(20);
    while !signal.peer_waiting() {
        assert!(Instant::now() < give_up, "the child never parked");
        std::thread::sleep(Duration::from_millis(1));
    }
    // A wake with nothing published: the child re-checks its condition and parks again.
    signal.notify();
    assert_eq!(signal.stats().wake_calls, 1, "a registered waiter costs one wake call");
    std::thread::sleep(Duration::from_millis(20));
    flag(&segment, 0).store(1, Ordering::Release);
    signal.notify();
    finish(child);
    assert!(flag(&segment, 1).load(Ordering::Acquire) >= 1, "the child parked at least once");
}

#[test]
fn a_child_process_times_out_when_nobody_notifies() {
    let segment = Segment::create(&small_geometry()).unwrap();
    finish(spawn_child("ipc::wake::tests::child_entry", "wait-timeout", &segment, &[]));
    assert!(flag(&segment, 1).load(Ordering::Acquire) >= 1, "the child parked before timing out");
}

#[test]
fn each_direction_and_event_has_its_own_wake_object() {
    let mut seen = Vec::new();
    for direction in 0..2 {
        for event in [Event::Data, Event::Space] {
            seen.push(object_index(direction, event));
        }
    }
    assert_eq!(seen, [0, 1, 2, 3]);
}
