//! Sessions across processes (the child is this test binary run again with `PLUGHOST_IPC_SESSION_CHILD`
//! set) and between two threads over a real segment: calls, concurrency, nested calls, events,
//! large payloads, back-pressure, a killed peer, isolation, a hostile peer, and a million messages.
#![cfg(target_os = "linux")]

use plughost::ipc::layout::{Geometry, SlotClass, RING_CONTROL_SIZE};
use plughost::ipc::ring;
use plughost::ipc::segment::Segment;
use plughost::ipc::session::{IpcError, Session, SessionConfig};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "PLUGHOST_IPC_SESSION_CHILD";
const GEOMETRY_ENV: &str = "PLUGHOST_IPC_SESSION_GEOMETRY";
const COUNT_ENV: &str = "PLUGHOST_IPC_SESSION_COUNT";
const LONG: Duration = Duration::from_secs(20);

/// Rings of 16 KiB; 16 x 4 KiB, 8 x 64 KiB and 2 x 2 MiB slots (a 1 MiB payload fits).
fn big() -> Geometry {
    Geometry {
        ring_capacity: 16 << 10,
        inline_max: 256,
        classes: vec![
            SlotClass { slot_size: 4 << 10, slot_count: 16 },
            SlotClass { slot_size: 64 << 10, slot_count: 8 },
            SlotClass { slot_size: 2 << 20, slot_count: 2 },
        ],
    }
}

/// A 4 KiB ring and 4 x 1 KiB + 2 x 8 KiB slots: easy to fill.
fn small() -> Geometry {
    Geometry {
        ring_capacity: 4096,
        inline_max: 256,
        classes: vec![SlotClass { slot_size: 1024, slot_count: 4 }, SlotClass { slot_size: 8192, slot_count: 2 }],
    }
}

fn geometry_named(name: &str) -> Geometry {
    if name == "small" {
        small()
    } else {
        big()
    }
}

/// A checksum over 8-byte words (fast enough in a debug build for a million messages).
fn word_sum(bytes: &[u8]) -> u64 {
    let chunks = bytes.chunks_exact(8);
    let tail = chunks.remainder().iter().fold(bytes.len() as u64, |h, &b| h.rotate_left(8) ^ b as u64);
    chunks.fold(tail, |h, w| (h ^ u64::from_le_bytes(w.try_into().unwrap())).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

/// Message `seq` of sender `thread` in the back-pressure test, self-describing: sender 0 sends
/// 16 to 215 bytes (inline), sender 1 16 to 8,015 bytes (mostly through slots).
fn flood_payload(thread: u64, seq: u64) -> Vec<u8> {
    let spread = if thread == 0 { 200 } else { 8000 };
    let len = 16 + ((seq * 7919 + thread * 104_729) % spread) as usize;
    let mut p: Vec<u8> = (0..len).map(|k| (k as u64 * 31 + seq * 7 + thread) as u8).collect();
    p[..8].copy_from_slice(&thread.to_le_bytes());
    p[8..16].copy_from_slice(&seq.to_le_bytes());
    p
}

/// Start this binary as peer B in `mode`.
fn spawn(mode: &str, geometry: &str, env: &[(&str, String)]) -> (Session, Child) {
    let (session, handoff) = Session::create(&geometry_named(geometry)).unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .env(GEOMETRY_ENV, geometry)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = handoff.die_with_parent(true).spawn(&mut cmd).unwrap();
    (session, child)
}

/// Wait for a child; fails unless its one test ran and passed. Returns its standard output.
fn finish(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("1 passed"), "the child ran no test:\n{stdout}\n{stderr}");
    stdout
}

/// Memfd segments this process can reach through its descriptors.
fn memfd_segments() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("/memfd:plughost-"))
        .count()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Entry point of the children; does nothing in a normal test run.
#[test]
fn child_entry() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    let geometry = geometry_named(&std::env::var(GEOMETRY_ENV).unwrap());
    match mode.as_str() {
        "echo" => echo_child(&geometry),
        "slow-sink" => slow_sink_child(&geometry),
        "hostile" => hostile_child(&geometry),
        other => panic!("unknown child mode {other}"),
    }
}

/// Peer B with services `echo` and `plugin` and an event echo; serves until the host leaves.
fn echo_child(geometry: &Geometry) {
    let session = Session::attach_from_env(geometry).unwrap();
    let handle = session.handle();
    session.register("echo", |method, payload| match method {
        "same" => Ok(payload.to_vec()),
        "fail" => Err((201, format!("failed on {} bytes", payload.len()))),
        other => Err((2, format!("no method {other}"))),
    });
    let h = handle.clone();
    session.register("plugin", move |method, payload| match method {
        // A call back into the host in the middle of this request, then a deeper one.
        "nested" => {
            let added = h.call("host", "add", payload, LONG).map_err(|e| (404, e.to_string()))?;
            let deeper = h.call("host", "deeper", b"", LONG).map_err(|e| (404, e.to_string()))?;
            Ok([added, b" ".to_vec(), deeper].concat())
        }
        "leaf" => Ok(b"leaf".to_vec()),
        "segments" => Ok(memfd_segments().to_string().into_bytes()),
        "slow" => {
            h.publish("entered", b"", LONG).unwrap();
            std::thread::sleep(Duration::from_secs(30));
            Ok(Vec::new())
        }
        other => Err((2, format!("no method {other}"))),
    });
    let h = handle.clone();
    session.on_event(move |topic, payload| {
        h.publish(&format!("echo:{topic}"), payload, LONG).unwrap();
    });
    loop {
        match session.serve(Instant::now() + Duration::from_secs(1)) {
            Ok(()) => {}
            Err(IpcError::Closed) => break,
            Err(e) => panic!("serving: {e}"),
        }
    }
}

/// Peer B that sleeps on the first event (so the host's ring and pool fill), then checks every
/// event, and prints the count and the checksum once all arrived.
fn slow_sink_child(geometry: &Geometry) {
    let expected: u64 = std::env::var(COUNT_ENV).unwrap().parse().unwrap();
    let session = Session::attach_from_env(geometry).unwrap();
    let state = Arc::new(Mutex::new((0u64, 0u64, [0u64; 2])));
    let s = state.clone();
    session.on_event(move |_, payload| {
        let mut state = s.lock().unwrap();
        if state.0 == 0 {
            std::thread::sleep(Duration::from_millis(300));
        }
        let thread = u64::from_le_bytes(payload[..8].try_into().unwrap());
        let seq = u64::from_le_bytes(payload[8..16].try_into().unwrap());
        assert_eq!(seq, state.2[thread as usize], "in order per sender");
        assert_eq!(payload, flood_payload(thread, seq), "intact");
        state.2[thread as usize] += 1;
        state.0 += 1;
        state.1 = state.1.wrapping_add(fnv(payload));
    });
    let deadline = Instant::now() + LONG;
    while state.lock().unwrap().0 < expected {
        assert!(Instant::now() < deadline, "events missing");
        session.serve(Instant::now() + Duration::from_millis(50)).unwrap();
    }
    let (count, sum, _) = *state.lock().unwrap();
    println!("RESULT count={count} sum={sum}");
}

/// A hostile peer B: no session, just a malformed frame in its ring.
fn hostile_child(geometry: &Geometry) {
    let segment = Segment::attach_from_env(geometry).unwrap();
    let control = segment.layout().rings[1];
    // Length 8, kind 9 (no such frame kind), published with the stamp of the first line.
    let header = u64::from(ring::stamp(0)) | 8 << 32 | 9 << 48;
    segment.region().atomic_u64(control + RING_CONTROL_SIZE).unwrap().store(header, Ordering::Release);
    std::thread::sleep(Duration::from_secs(30));
}

#[test]
fn request_and_response_across_processes() {
    let (session, child) = spawn("echo", "big", &[]);
    assert_eq!(session.call("echo", "same", b"hello", LONG).unwrap(), b"hello");
    assert_eq!(session.call("echo", "same", b"", LONG).unwrap(), b"");
    let failed = session.call("echo", "fail", b"abc", LONG).unwrap_err();
    assert_eq!(failed, IpcError::Remote { status: 201, message: "failed on 3 bytes".into() });
    assert!(matches!(session.call("nobody", "x", b"", LONG), Err(IpcError::NoSuchService(_))));
    let registry = session.peer_registry(LONG).unwrap();
    let names: Vec<_> = registry.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["echo", "plugin"]);
    // Round trips of 32 bytes, for the record (debug build, no benchmark).
    let start = Instant::now();
    for _ in 0..1000 {
        session.call("echo", "same", &[7u8; 32], LONG).unwrap();
    }
    println!("1000 round trips of 32 bytes: {:?} each (debug build)", start.elapsed() / 1000);
    drop(session);
    finish(child);
}

#[test]
fn eight_threads_call_at_once() {
    let (session, child) = spawn("echo", "big", &[]);
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let session = &session;
            s.spawn(move || {
                for i in 0..200u64 {
                    let len = ((t * 131 + i * 71) % 600) as usize;
                    let payload: Vec<u8> = (0..len).map(|k| (k as u64 ^ t ^ i) as u8).collect();
                    assert_eq!(session.call("echo", "same", &payload, LONG).unwrap(), payload, "thread {t} call {i}");
                }
            });
        }
    });
    let stats = session.stats();
    assert_eq!(stats.calls, 1600);
    assert!(stats.slot_sent > 0 && stats.inline_sent > 0, "{stats:?}");
    assert_eq!(session.calls_in_flight(), 0);
    drop(session);
    finish(child);
}

#[test]
fn nested_calls_in_both_directions() {
    let (session, child) = spawn("echo", "big", &[]);
    let handle = session.handle();
    session.register("host", move |method, payload| match method {
        "add" => {
            let n: u64 = text(payload).parse().map_err(|_| (2, "not a number".to_string()))?;
            Ok((n + 1).to_string().into_bytes())
        }
        // The host calls the plugin again while the plugin's request is in the middle.
        "deeper" => {
            let leaf = handle.call("plugin", "leaf", b"", LONG).map_err(|e| (404, e.to_string()))?;
            Ok([leaf, b"!".to_vec()].concat())
        }
        other => Err((2, format!("no method {other}"))),
    });
    assert_eq!(text(&session.call("plugin", "nested", b"41", LONG).unwrap()), "42 leaf!");
    assert_eq!(session.stats().requests_served, 2);
    drop(session);
    finish(child);
}

#[test]
fn events_both_ways() {
    let (session, child) = spawn("echo", "big", &[]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    session.on_event(move |topic, payload| s.lock().unwrap().push((topic.to_string(), payload.to_vec())));
    for i in 0..100u32 {
        session.publish(&format!("t{i}"), &vec![i as u8; i as usize * 10]).unwrap();
    }
    let deadline = Instant::now() + LONG;
    while seen.lock().unwrap().len() < 100 {
        assert!(Instant::now() < deadline, "echoes missing");
        session.serve(Instant::now() + Duration::from_millis(20)).unwrap();
    }
    let seen = seen.lock().unwrap();
    for (i, (topic, payload)) in seen.iter().enumerate() {
        assert_eq!(topic, &format!("echo:t{i}"));
        assert_eq!(payload, &vec![i as u8; i * 10]);
    }
    assert_eq!(session.stats().events_sent, 100);
    assert_eq!(session.stats().events_received, 100);
    drop(seen);
    drop(session);
    finish(child);
}

#[test]
fn a_one_mebibyte_payload_goes_through_slots() {
    let (session, child) = spawn("echo", "big", &[]);
    let payload: Vec<u8> = (0..1u64 << 20).map(|k| (k.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let start = Instant::now();
    let answer = session.call("echo", "same", &payload, LONG).unwrap();
    println!("1 MiB round trip: {:?} (debug build)", start.elapsed());
    assert_eq!(fnv(&answer), fnv(&payload));
    assert_eq!(answer, payload);
    assert!(session.stats().slot_sent >= 1);
    let too_big = vec![0u8; 3 << 20];
    assert!(matches!(session.call("echo", "same", &too_big, LONG), Err(IpcError::TooLarge { .. })));
    assert_eq!(session.outgoing_free_slots(), [16, 8, 2], "every slot came back");
    drop(session);
    finish(child);
}

#[test]
fn back_pressure_loses_nothing() {
    const PER_THREAD: u64 = 150;
    let (session, child) = spawn("slow-sink", "small", &[(COUNT_ENV, (2 * PER_THREAD).to_string())]);
    let mut expected = 0u64;
    std::thread::scope(|s| {
        let senders: Vec<_> = (0..2u64)
            .map(|t| {
                let session = &session;
                s.spawn(move || {
                    let mut sum = 0u64;
                    for seq in 0..PER_THREAD {
                        let payload = flood_payload(t, seq);
                        session.publish_timeout("flood", &payload, LONG).unwrap();
                        sum = sum.wrapping_add(fnv(&payload));
                    }
                    sum
                })
            })
            .collect();
        for sender in senders {
            expected = expected.wrapping_add(sender.join().unwrap());
        }
    });
    let stats = session.stats();
    println!("sender stats: {stats:?}");
    assert!(stats.ring_full_waits > 0, "the ring was full at least once");
    assert!(stats.pool_full_waits > 0, "the slot pool was full at least once");
    let stdout = finish(child);
    assert!(stdout.contains(&format!("RESULT count={} sum={expected}", 2 * PER_THREAD)), "{stdout}");
}

#[test]
fn killing_the_peer_fails_the_call_within_100_ms() {
    let (session, mut child) = spawn("echo", "big", &[]);
    let entered = Arc::new(AtomicBool::new(false));
    let e = entered.clone();
    session.on_event(move |topic, _| e.store(topic == "entered", Ordering::Release));
    std::thread::scope(|s| {
        let caller = s.spawn(|| {
            let result = session.call("plugin", "slow", b"", LONG);
            (result, Instant::now())
        });
        let deadline = Instant::now() + LONG;
        while !entered.load(Ordering::Acquire) {
            assert!(Instant::now() < deadline, "the child never entered its handler");
            std::thread::sleep(Duration::from_millis(1));
        }
        // A large event the child will never take: its slot stays in use until the reclaim.
        session.publish("unread", &[1u8; 40_000]).unwrap();
        assert!(session.outgoing_free_slots()[1] < 8);
        let killed = Instant::now();
        child.kill().unwrap();
        let (result, failed) = caller.join().unwrap();
        let latency = failed - killed;
        println!("kill -9 to PeerDead: {latency:?}");
        assert!(matches!(result, Err(IpcError::PeerDead(_))), "{result:?}");
        assert!(latency < Duration::from_millis(100), "the caller waited {latency:?}");
    });
    assert!(matches!(session.call("echo", "same", b"x", LONG), Err(IpcError::PeerDead(_))));
    assert!(matches!(session.publish("x", b""), Err(IpcError::PeerDead(_))));
    assert!(session.slots_reclaimed());
    assert_eq!(session.outgoing_free_slots(), [16, 8, 2], "the slots were reclaimed");
    assert_eq!(plughost::Error::from(session.status().unwrap_err()).kind(), plughost::ErrorKind::IpcPeerDead);
    child.wait().unwrap();
}

#[test]
fn two_sessions_cannot_see_each_other() {
    let (first, first_child) = spawn("echo", "big", &[]);
    let (second, second_child) = spawn("echo", "big", &[]);
    // Each child holds exactly one segment: its own; the other session's was never inherited.
    assert_eq!(text(&first.call("plugin", "segments", b"", LONG).unwrap()), "1");
    assert_eq!(text(&second.call("plugin", "segments", b"", LONG).unwrap()), "1");
    assert_eq!(first.call("echo", "same", b"first", LONG).unwrap(), b"first");
    assert_eq!(second.call("echo", "same", b"second", LONG).unwrap(), b"second");
    // Bytes written into one segment do not appear in the other.
    let spot = 2048;
    first.segment().region().write(spot, b"marker").unwrap();
    let mut seen = [0u8; 6];
    second.segment().region().read(spot, &mut seen).unwrap();
    assert_ne!(&seen, b"marker");
    assert_ne!(first.segment().creator_pid(), 0);
    drop((first, second));
    finish(first_child);
    finish(second_child);
}

#[test]
fn a_malformed_frame_breaks_the_session() {
    let (session, mut child) = spawn("hostile", "big", &[]);
    let result = session.serve(Instant::now() + LONG);
    assert!(matches!(result, Err(IpcError::Malformed(_))), "{result:?}");
    assert_eq!(session.stats().malformed, 1);
    assert_eq!(session.stats().ring_in.malformed, 1);
    assert!(matches!(session.call("echo", "same", b"x", LONG), Err(IpcError::Malformed(_))));
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Both sides in one process (two threads over a real memfd segment): a million events across
/// processes would take too long in a debug build.
#[test]
fn a_million_mixed_messages_between_threads() {
    const N: u64 = 1_000_000;
    let geometry = Geometry { ring_capacity: 64 << 10, ..big() };
    let (a, b) = Session::pair_with(&geometry, SessionConfig::default()).unwrap();
    // Message i: its number, then bytes cut from a fixed pattern at an offset that depends on i;
    // 0 to 239 bytes inline, every 1000th 3,000 to 7,999 bytes through a slot.
    let pattern: Arc<Vec<u8>> = Arc::new((0..9000u32).map(|k| (k.wrapping_mul(37) ^ 0x5A) as u8).collect());
    let fill = |pattern: &[u8], i: u64, out: &mut Vec<u8>| {
        let len = if i % 1000 == 999 { 3000 + (i % 5000) as usize } else { ((i * 7919) % 240) as usize };
        let start = (i % 251) as usize;
        out.clear();
        out.extend_from_slice(&pattern[start..start + len]);
        let n = len.min(8);
        out[..n].copy_from_slice(&i.to_le_bytes()[..n]);
    };
    let received = Arc::new(AtomicU64::new(0));
    let sum = Arc::new(AtomicU64::new(0));
    let (r, s) = (received.clone(), sum.clone());
    let (p, expected) = (pattern.clone(), Mutex::new(Vec::new()));
    b.on_event(move |_, bytes| {
        let i = r.load(Ordering::Relaxed);
        let mut expected = expected.lock().unwrap();
        fill(&p, i, &mut expected);
        assert!(bytes == &expected[..], "message {i} lost, reordered or damaged");
        s.store(s.load(Ordering::Relaxed).wrapping_add(word_sum(bytes)), Ordering::Relaxed);
        r.store(i + 1, Ordering::Release);
    });
    let start = Instant::now();
    let sent_sum = std::thread::scope(|scope| {
        let sender = scope.spawn(|| {
            let (mut sum, mut p) = (0u64, Vec::new());
            for i in 0..N {
                fill(&pattern, i, &mut p);
                a.publish_timeout("m", &p, LONG).unwrap();
                sum = sum.wrapping_add(word_sum(&p));
            }
            sum
        });
        while received.load(Ordering::Acquire) < N {
            b.serve(Instant::now() + Duration::from_millis(100)).unwrap();
        }
        sender.join().unwrap()
    });
    println!("{N} events in {:?}; sender {:?}", start.elapsed(), a.stats());
    assert_eq!(received.load(Ordering::Acquire), N);
    assert_eq!(sum.load(Ordering::Relaxed), sent_sum);
    assert!(a.stats().slot_sent >= N / 1000);
}

/// Data channels: a service serves the channel it was registered on only; events go to their
/// channel's handler, or to the handler of every channel; the control channel is refused.
#[test]
fn channels_keep_services_and_events_apart() {
    use plughost::ipc::message::MethodKind;
    let (a, b) = Session::pair(&Geometry::default()).unwrap();
    b.register("echo", |_, payload| Ok([b"one:", payload].concat()));
    b.register_on(2, "echo", &[("same", MethodKind::Call)], Arc::new(|_, payload| Ok([b"two:", payload].concat())))
        .unwrap();
    b.register_on(3, "only-three", &[], Arc::new(|_, _| Ok(b"three".to_vec()))).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (any, two) = (seen.clone(), seen.clone());
    b.on_event(move |topic, _| any.lock().unwrap().push(format!("any:{topic}")));
    b.on_channel_event(2, Arc::new(move |topic, _| two.lock().unwrap().push(format!("two:{topic}")))).unwrap();
    b.serve_in_background().unwrap();

    assert_eq!(a.call("echo", "same", b"x", LONG).unwrap(), b"one:x");
    assert_eq!(a.call_on(2, "echo", "same", b"x", LONG).unwrap(), b"two:x");
    assert_eq!(a.call_on(3, "only-three", "m", b"", LONG).unwrap(), b"three");
    assert!(matches!(a.call("only-three", "m", b"", LONG), Err(IpcError::NoSuchService(m)) if m.contains("channel 1")));
    assert!(matches!(a.call_on(0, "echo", "same", b"", LONG), Err(IpcError::InvalidArgument(_))));
    assert!(matches!(a.publish_on(0, "t", b"", LONG), Err(IpcError::InvalidArgument(_))));
    assert!(b.register_on(0, "x", &[], Arc::new(|_, _| Ok(Vec::new()))).is_err());

    a.publish_on(2, "a", b"", LONG).unwrap();
    a.publish_on(5, "b", b"", LONG).unwrap();
    a.publish("c", b"").unwrap();
    a.call("echo", "same", b"", LONG).unwrap(); // after the events, in order
    assert_eq!(*seen.lock().unwrap(), ["two:a", "any:b", "any:c"]);

    let registry = a.peer_registry(LONG).unwrap();
    let channels: Vec<(u32, &str)> = registry.services.iter().map(|s| (s.channel, s.name.as_str())).collect();
    assert_eq!(channels, [(1, "echo"), (2, "echo"), (3, "only-three")]);
    assert!(b.unregister_on(2, "echo"));
    assert!(matches!(a.call_on(2, "echo", "same", b"", LONG), Err(IpcError::NoSuchService(_))));
    assert_eq!(a.call("echo", "same", b"y", LONG).unwrap(), b"one:y");
}
