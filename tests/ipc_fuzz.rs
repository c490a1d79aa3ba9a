//! Bounded, deterministic fuzzing of the three cargo-fuzz entry points (`fuzz/`), on stable Rust:
//! 200,000 generated inputs for each, half from a fixed seed and half from one taken from the clock. A
//! failure prints its seed; replay it with `PLUGHOST_FUZZ_SEED=<seed> cargo test --test ipc_fuzz`.
//! Longer, coverage-guided runs: see fuzz/README.md.

use plughost::ipc::frame::{self, FrameLimits, FramePayload, SlotDescriptor, FRAME_ALIGN, WORD};
use plughost::ipc::fuzzing::{self, seeds, RingScript, XorShift, RING_IMAGE_LEN};
use plughost::ipc::layout::RING_CONTROL_SIZE;
use plughost::ipc::message::Message;
use plughost::ipc::ring;

/// Inputs per seed (two seeds per run).
const INPUTS: usize = 100_000;

/// Bytes to cut payloads from (xorshift output of a fixed seed).
static POOL: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    let mut pool = vec![0u8; 4096];
    XorShift::new(7).fill(&mut pool);
    pool
});

fn limits() -> FrameLimits {
    FrameLimits::new(&fuzzing::geometry()).unwrap()
}

/// A descriptor, valid for the fuzz geometry three times in four.
fn descriptor(rng: &mut XorShift) -> SlotDescriptor {
    if rng.one_in(4) {
        let r = rng.next_u64();
        return SlotDescriptor {
            class: r as u8 % 4,
            index: (r >> 8) as u32 % 6,
            generation: 0,
            len: (r >> 40) as u32 % 1100,
        };
    }
    let class = rng.below(2) as u8;
    let (size, count) = [(64, 4), (1024, 2)][class as usize];
    SlotDescriptor {
        class,
        index: rng.below(count) as u32,
        generation: rng.next_u64() as u32,
        len: rng.below(size + 1) as u32,
    }
}

/// The bytes of a frame: well-formed, or not when the descriptor is out of range.
fn frame_bytes(rng: &mut XorShift, limits: &FrameLimits, out: &mut Vec<u8>) {
    let mut body = [0u8; 256];
    let payload = match rng.below(8) {
        0 => FramePayload::Pad,
        1 | 2 => FramePayload::Slot(descriptor(rng)),
        _ => {
            // Random bytes cut from a random pool: cheaper than drawing each one.
            let len = rng.below(257) as usize;
            let start = rng.below((POOL.len() - len) as u64) as usize;
            body[..len].copy_from_slice(&POOL[start..start + len]);
            FramePayload::Inline(&body[..len])
        }
    };
    if frame::encode(payload, 0, limits, out).is_err() {
        // An out-of-range descriptor: encode it by hand, as a hostile peer would.
        if let FramePayload::Slot(d) = payload {
            let start = out.len();
            out.extend_from_slice(&(16u64 << 32 | 3 << 48).to_le_bytes());
            out.extend_from_slice(&d.encode());
            out.resize(start + FRAME_ALIGN, 0);
        }
    }
}

fn mutate(rng: &mut XorShift, bytes: &mut Vec<u8>, from: usize) {
    for _ in 0..1 + rng.below(3) {
        if bytes.len() <= from {
            return;
        }
        let at = from + rng.below((bytes.len() - from) as u64) as usize;
        match rng.below(4) {
            0 => bytes[at] = rng.next_u64() as u8,
            1 => bytes[at] ^= 1 << rng.below(8),
            2 => bytes.truncate(at),
            _ => bytes.insert(at, rng.next_u64() as u8),
        }
    }
}

#[test]
fn frame_decode_survives_generated_inputs() {
    for seed in seeds(0xF8A3_E5EE) {
        println!("seed {seed} (replay with PLUGHOST_FUZZ_SEED={seed})");
        let mut rng = XorShift::new(seed);
        let limits = limits();
        let mut input = Vec::new();
        let (mut frames, mut clean) = (0usize, 0usize);
        for _ in 0..INPUTS {
            input.clear();
            if rng.one_in(4) {
                input.resize(rng.below(64) as usize, 0);
                rng.fill(&mut input);
            } else {
                for _ in 0..1 + rng.below(5) {
                    frame_bytes(&mut rng, &limits, &mut input);
                }
                if rng.one_in(2) {
                    mutate(&mut rng, &mut input, 0);
                }
            }
            let decoded = fuzzing::frame_decode(&input);
            frames += decoded;
            clean += usize::from(count_frames(&input, &limits) == decoded);
        }
        println!("{frames} frames decoded");
        assert!(frames > INPUTS && clean > 0);
    }
}

/// A short name or text: ASCII mostly, sometimes with multi-byte characters.
fn text(rng: &mut XorShift) -> String {
    let pieces = ["log", "write", "bench", "é", "✓", "", "plughost.registry", "list"];
    (0..rng.below(3)).map(|_| pieces[rng.below(pieces.len() as u64) as usize]).collect()
}

/// A message of any kind with generated fields.
fn message(rng: &mut XorShift) -> Message {
    let (id, word) = (rng.next_u64() >> rng.below(64), rng.next_u64() as u32 >> rng.below(32));
    let payload = POOL[..rng.below(300) as usize].to_vec();
    match rng.below(7) {
        0 => Message::Hello { version: word, pid: word },
        1 => Message::Request { id, channel: word, service: text(rng), method: text(rng), payload },
        2 => Message::Response { id, payload },
        3 => Message::Failure { id, status: word as i32, message: text(rng) },
        4 => Message::Event { channel: word, topic: text(rng), payload },
        5 => Message::Heartbeat { sequence: id },
        _ => Message::Goodbye,
    }
}

#[test]
fn message_decode_survives_generated_inputs() {
    for seed in seeds(0x3E55_A6E0) {
        println!("seed {seed} (replay with PLUGHOST_FUZZ_SEED={seed})");
        let mut rng = XorShift::new(seed);
        let mut input = Vec::new();
        let (mut decoded, mut generated) = (0usize, 0usize);
        for _ in 0..INPUTS {
            if rng.one_in(4) {
                input.clear();
                input.resize(rng.below(64) as usize, 0);
                rng.fill(&mut input);
            } else {
                let original = message(&mut rng);
                input = original.encode();
                if rng.one_in(2) {
                    mutate(&mut rng, &mut input, 0);
                } else {
                    generated += 1;
                    assert_eq!(Message::decode(&input), Ok(original), "an encoded message decodes");
                }
            }
            decoded += usize::from(fuzzing::message_decode(&input));
        }
        println!("{decoded} of {INPUTS} inputs decoded");
        assert!(decoded >= generated && generated > INPUTS / 4);
    }
}

/// Frames that `frame_decode` should reach: an independent walk over headers.
fn count_frames(bytes: &[u8], limits: &FrameLimits) -> usize {
    let mut rest = bytes;
    let mut n = 0;
    let mut out = Vec::new();
    while let Ok(d) = frame::decode(rest, limits, &mut out) {
        rest = &rest[d.size..];
        n += 1;
    }
    n
}

/// A script in which an honest producer sends `messages` frames through ring 0 while the consumer
/// receives, going around the ring; `hostile` adds a hostile peer's writes at random steps. Each
/// frame is written whole (markers and payload, its header word last), as the producer does.
fn ring_script(rng: &mut XorShift, limits: &FrameLimits, messages: usize, hostile: bool) -> (RingScript, Sent) {
    const CAP: u64 = 4096;
    let data = |tail: u64| RING_CONTROL_SIZE + (tail % CAP) as usize;
    let mut script = RingScript::new(&[]);
    let (mut tail, mut released, mut pending) = (0u64, 0u64, 0usize);
    let (mut bytes, mut scratch) = (Vec::new(), Vec::new());
    let (mut sent, mut pads) = (0, 0);
    // Writes a frame: the lines after the first, then the header word.
    let put = |script: &mut RingScript, tail: u64, frame: &[u8]| {
        for (k, chunk) in frame[WORD..].chunks(255).enumerate() {
            script.write(data(tail) + WORD + 255 * k, chunk);
        }
        script.write(data(tail), &frame[..WORD]);
    };
    // Up to 12 frames of five lines of which only the header is written, to reach the end of the
    // ring cheaply; the consumer reads their payload (stale bytes) without judging it.
    for _ in 0..rng.below(13) {
        let header = u64::from(ring::stamp(tail)) | 256 << 32 | 2 << 48;
        script.write(data(tail), &header.to_le_bytes());
        tail += frame::frame_size(256) as u64;
        pending += 1;
        sent += 1;
    }
    for _ in 0..messages {
        bytes.clear();
        frame_bytes(rng, limits, &mut bytes);
        let payload = match frame::decode(&bytes, limits, &mut scratch) {
            Ok(d) if d.payload != FramePayload::Pad => d.payload,
            _ => continue, // the honest producer refuses it, or writes PAD frames only itself
        };
        let size = bytes.len() as u64;
        let room = CAP - tail % CAP;
        let needed = if room < size { room + size } else { size };
        if tail + needed - released > CAP {
            // Wait for the consumer: let it receive everything, count it as released.
            while pending > 0 {
                script.recv(pending.min(64));
                pending -= pending.min(64);
            }
            released = tail;
        }
        if room < size {
            let mut pad = Vec::new();
            frame::encode(FramePayload::Pad, ring::stamp(tail), limits, &mut pad).unwrap();
            pad.resize(room as usize, 0);
            for (line, word) in pad.chunks_mut(FRAME_ALIGN).enumerate().skip(1) {
                word[..WORD].copy_from_slice(&u64::from(ring::stamp(tail + 64 * line as u64)).to_le_bytes());
            }
            put(&mut script, tail, &pad);
            tail += room;
            pads += 1;
        }
        let mut encoded = Vec::new();
        frame::encode(payload, ring::stamp(tail), limits, &mut encoded).unwrap();
        put(&mut script, tail, &encoded);
        tail += size;
        pending += 1;
        sent += 1;
        if rng.one_in(3) {
            script.recv(1 + rng.below(3) as usize);
        }
        if hostile && rng.one_in(8) {
            match rng.below(4) {
                0 => script.publish(tail.wrapping_add(rng.below(2 * CAP)).saturating_sub(CAP)),
                1 => script.publish(rng.next_u64()),
                2 => script.write_u64(RING_CONTROL_SIZE + rng.below(CAP) as usize, rng.next_u64()),
                _ => {
                    let mut fields = [0u8; 4];
                    rng.fill(&mut fields);
                    fields[2] %= 5;
                    script.write(data(tail) + 4, &fields).publish(tail)
                }
            };
        }
    }
    (script, Sent { frames: sent, pads })
}

/// What a generated script sends.
struct Sent {
    frames: u64,
    /// PAD frames, written each time the producer went around the ring.
    pads: u64,
}

#[test]
fn ring_recv_survives_generated_inputs() {
    for seed in seeds(0x21A6_F0CC) {
        println!("seed {seed} (replay with PLUGHOST_FUZZ_SEED={seed})");
        let mut rng = XorShift::new(seed);
        let limits = limits();
        let (mut frames, mut errors, mut honest, mut wrapped) = (0u64, 0u64, 0u64, 0u64);
        let mut image = vec![0u8; RING_IMAGE_LEN];
        for _ in 0..INPUTS {
            let outcome = match rng.below(8) {
                // Arbitrary bytes over the control block and data, and a few receive calls.
                0 => {
                    let len = rng.below(RING_IMAGE_LEN as u64 + 1) as usize;
                    rng.fill(&mut image[..len]);
                    for k in 0..1 + rng.below(3) {
                        // The stamps of a few positions (mostly the first), so that the frames
                        // there are read.
                        let anywhere = k > 0 || rng.one_in(4);
                        let position = if anywhere { rng.below(4096) & !(FRAME_ALIGN as u64 - 1) } else { 0 };
                        let at = RING_CONTROL_SIZE + position as usize;
                        if at + 4 <= len {
                            image[at..at + 4].copy_from_slice(&ring::stamp(position).to_le_bytes());
                        }
                    }
                    let mut script = RingScript::new(&image[..len]);
                    script.recv(1 + rng.below(64) as usize);
                    fuzzing::ring_recv(script.bytes())
                }
                // An honest run: everything sent arrives, nothing is refused.
                1..=3 => {
                    let messages = 1 + rng.below(24) as usize;
                    let (script, sent) = ring_script(&mut rng, &limits, messages, false);
                    let outcome = fuzzing::ring_recv(script.bytes());
                    assert_eq!((outcome.frames, outcome.error), (sent.frames, None), "an honest run");
                    honest += 1;
                    wrapped += u64::from(sent.pads > 0);
                    outcome
                }
                4..=5 => {
                    let messages = 1 + rng.below(24) as usize;
                    fuzzing::ring_recv(ring_script(&mut rng, &limits, messages, true).0.bytes())
                }
                _ => {
                    let messages = 1 + rng.below(24) as usize;
                    let (mut script, _) = ring_script(&mut rng, &limits, messages, false);
                    mutate(&mut rng, script.bytes_mut(), 2);
                    fuzzing::ring_recv(script.bytes())
                }
            };
            frames += outcome.frames;
            errors += u64::from(outcome.error.is_some());
        }
        println!("{frames} frames received, {errors} inputs ended in an error, {honest} honest runs, {wrapped} around the ring");
        assert!(frames > INPUTS as u64 && errors > INPUTS as u64 / 10 && wrapped > honest / 10);
    }
}
