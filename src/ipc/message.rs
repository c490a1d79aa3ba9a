//! The messages two peers exchange, encoded with postcard.
//!
//! Channel 0 is the control channel (hello, heartbeats, goodbye, the service registry); data
//! channels carry requests, responses, failures and events. Decoding (`reader.rs`, the postcard
//! encoding read by hand) takes bytes already copied out of shared memory; a malformed message is
//! an error, and nothing is allocated from a length prefix (one larger than the rest of the input
//! is refused first).

use reader::{ReadError, Reader};
use serde::{Deserialize, Serialize};

mod reader;

/// The control channel.
pub const CONTROL_CHANNEL: u32 = 0;
/// The protocol version carried in [`Message::Hello`].
pub const PROTOCOL_VERSION: u32 = 1;

/// One message between peers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// The first message of each side, on the control channel.
    Hello {
        /// [`PROTOCOL_VERSION`] of the sender.
        version: u32,
        /// The sender's process id.
        pid: u32,
    },
    /// A call: `service`.`method` with `payload`; answered by a `Response` or `Failure` with the
    /// same `id`. Ids are chosen by the caller and unique among its calls in flight.
    Request {
        /// The caller's request id.
        id: u64,
        /// The data channel.
        channel: u32,
        /// The service's name.
        service: String,
        /// The method's name.
        method: String,
        /// The argument bytes.
        #[serde(with = "bytes")]
        payload: Vec<u8>,
    },
    /// A successful answer.
    Response {
        /// The request's id.
        id: u64,
        /// The result bytes.
        #[serde(with = "bytes")]
        payload: Vec<u8>,
    },
    /// A failed answer: a plughost status code and a message.
    Failure {
        /// The request's id.
        id: u64,
        /// A `PLUGHOST_ERR_*` status.
        status: i32,
        /// What went wrong.
        message: String,
    },
    /// A one-way event.
    Event {
        /// The data channel.
        channel: u32,
        /// The topic.
        topic: String,
        /// The payload.
        #[serde(with = "bytes")]
        payload: Vec<u8>,
    },
    /// Liveness backstop: a monotonic counter, on the control channel.
    Heartbeat {
        /// Grows with every heartbeat of the sender.
        sequence: u64,
    },
    /// The sender is leaving; no further message follows.
    Goodbye,
}

/// Payloads as serde *bytes*: postcard writes them exactly as a sequence of `u8` (a varint length,
/// then the bytes), so the wire format is unchanged, but it reads and writes them in one copy
/// instead of element by element.
pub(crate) mod bytes {
    use serde::{de, Deserializer, Serializer};
    use std::fmt;

    /// Write `value` as bytes.
    pub fn serialize<S: Serializer>(value: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(value)
    }

    /// Read bytes (or a sequence of `u8`, for formats without a bytes type).
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        deserializer.deserialize_byte_buf(BytesVisitor)
    }

    struct BytesVisitor;

    impl<'de> de::Visitor<'de> for BytesVisitor {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("bytes")
        }

        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }

        fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }

        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            // Bounded by what the input holds: no allocation from an untrusted size hint.
            let mut out = Vec::new();
            while let Some(b) = seq.next_element()? {
                out.push(b);
            }
            Ok(out)
        }
    }
}

/// A message that could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl Message {
    /// Encode into `out` (cleared first), reusing its allocation.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.clear();
        let bytes = postcard::to_extend(self, std::mem::take(out)).expect("encoding into a Vec cannot fail");
        *out = bytes;
    }

    /// Encode into a new vector.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Decode one message that fills `bytes` exactly.
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        MessageRef::decode(bytes).map(Message::from)
    }
}

/// A message borrowed from the bytes it was decoded from: the variants of [`Message`] in the same
/// order with the same fields, so the same encoding, but strings and payloads are views of the
/// input (local bytes already copied out of shared memory) instead of allocations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum MessageRef<'a> {
    /// [`Message::Hello`].
    Hello {
        /// The sender's protocol version.
        version: u32,
        /// The sender's process id.
        pid: u32,
    },
    /// [`Message::Request`].
    Request {
        /// The caller's request id.
        id: u64,
        /// The data channel.
        channel: u32,
        /// The service's name.
        service: &'a str,
        /// The method's name.
        method: &'a str,
        /// The argument bytes.
        #[serde(serialize_with = "bytes::serialize")]
        payload: &'a [u8],
    },
    /// [`Message::Response`].
    Response {
        /// The request's id.
        id: u64,
        /// The result bytes.
        #[serde(serialize_with = "bytes::serialize")]
        payload: &'a [u8],
    },
    /// [`Message::Failure`].
    Failure {
        /// The request's id.
        id: u64,
        /// A `PLUGHOST_ERR_*` status.
        status: i32,
        /// What went wrong.
        message: &'a str,
    },
    /// [`Message::Event`].
    Event {
        /// The data channel.
        channel: u32,
        /// The topic.
        topic: &'a str,
        /// The payload.
        #[serde(serialize_with = "bytes::serialize")]
        payload: &'a [u8],
    },
    /// [`Message::Heartbeat`].
    Heartbeat {
        /// The sender's sequence.
        sequence: u64,
    },
    /// [`Message::Goodbye`].
    Goodbye,
}

impl<'a> MessageRef<'a> {
    /// Decode one message that fills `bytes` exactly, borrowing from them; accepts and refuses
    /// exactly what [`Message::decode`] does.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        Self::read(bytes).map_err(DecodeError::from)
    }

    fn read(bytes: &'a [u8]) -> Result<Self, ReadError> {
        let mut r = Reader::new(bytes);
        // Fields are read in the order written, which is the order of the encoding.
        let message = match r.u32()? {
            HELLO => MessageRef::Hello { version: r.u32()?, pid: r.u32()? },
            REQUEST => MessageRef::Request {
                id: r.u64()?,
                channel: r.u32()?,
                service: r.str()?,
                method: r.str()?,
                payload: r.bytes()?,
            },
            RESPONSE => MessageRef::Response { id: r.u64()?, payload: r.bytes()? },
            FAILURE => MessageRef::Failure { id: r.u64()?, status: r.i32()?, message: r.str()? },
            EVENT => MessageRef::Event { channel: r.u32()?, topic: r.str()?, payload: r.bytes()? },
            HEARTBEAT => MessageRef::Heartbeat { sequence: r.u64()? },
            GOODBYE => MessageRef::Goodbye,
            other => return Err(ReadError::Kind(other)),
        };
        r.finish()?;
        Ok(message)
    }
}

impl From<MessageRef<'_>> for Message {
    fn from(message: MessageRef<'_>) -> Self {
        match message {
            MessageRef::Hello { version, pid } => Message::Hello { version, pid },
            MessageRef::Request { id, channel, service, method, payload } => Message::Request {
                id,
                channel,
                service: service.into(),
                method: method.into(),
                payload: payload.to_vec(),
            },
            MessageRef::Response { id, payload } => Message::Response { id, payload: payload.to_vec() },
            MessageRef::Failure { id, status, message } => Message::Failure { id, status, message: message.into() },
            MessageRef::Event { channel, topic, payload } => {
                Message::Event { channel, topic: topic.into(), payload: payload.to_vec() }
            }
            MessageRef::Heartbeat { sequence } => Message::Heartbeat { sequence },
            MessageRef::Goodbye => Message::Goodbye,
        }
    }
}

impl Message {
    /// The message, borrowed.
    pub fn as_ref(&self) -> MessageRef<'_> {
        match self {
            Message::Hello { version, pid } => MessageRef::Hello { version: *version, pid: *pid },
            Message::Request { id, channel, service, method, payload } => {
                MessageRef::Request { id: *id, channel: *channel, service, method, payload }
            }
            Message::Response { id, payload } => MessageRef::Response { id: *id, payload },
            Message::Failure { id, status, message } => MessageRef::Failure { id: *id, status: *status, message },
            Message::Event { channel, topic, payload } => MessageRef::Event { channel: *channel, topic, payload },
            Message::Heartbeat { sequence } => MessageRef::Heartbeat { sequence: *sequence },
            Message::Goodbye => MessageRef::Goodbye,
        }
    }
}

/// The variant indices of [`Message`] (and [`MessageRef`]) on the wire: their places in the enum.
pub(crate) const HELLO: u32 = 0;
pub(crate) const REQUEST: u32 = 1;
pub(crate) const RESPONSE: u32 = 2;
pub(crate) const FAILURE: u32 = 3;
pub(crate) const EVENT: u32 = 4;
pub(crate) const HEARTBEAT: u32 = 5;
pub(crate) const GOODBYE: u32 = 6;

/// The fields of a request, response or event that come before its payload, as a message with an
/// empty payload; `None` for the other kinds.
fn read_head(r: &mut Reader<'_>, kind: u32) -> Result<Option<Message>, ReadError> {
    Ok(Some(match kind {
        REQUEST => Message::Request {
            id: r.u64()?,
            channel: r.u32()?,
            service: r.str()?.into(),
            method: r.str()?.into(),
            payload: Vec::new(),
        },
        RESPONSE => Message::Response { id: r.u64()?, payload: Vec::new() },
        EVENT => Message::Event { channel: r.u32()?, topic: r.str()?.into(), payload: Vec::new() },
        _ => return Ok(None),
    }))
}

/// Where a payload lies in an encoded message, from [`Message::decode_head`].
#[derive(Debug)]
pub struct PayloadAt {
    /// The message with an empty payload; [`Message::set_payload`] fills it in.
    pub message: Message,
    /// The payload's first byte.
    pub offset: usize,
    /// The payload's length.
    pub len: usize,
}

impl Message {
    /// Decode the head of a message of `total` bytes from its first bytes, `prefix`: the fields
    /// before the payload and the payload's place. `None` when the message carries no payload or
    /// its head does not fit in `prefix`; an error when the head is malformed or the payload
    /// would not end exactly at `total`. Decoding the same bytes whole with [`Message::decode`]
    /// gives the same message.
    pub fn decode_head(prefix: &[u8], total: usize) -> Result<Option<PayloadAt>, DecodeError> {
        let mut r = Reader::new(prefix);
        // A head that does not fit in `prefix` (or is malformed) is left to the whole decoding.
        let head = r.u32().and_then(|kind| read_head(&mut r, kind));
        let (Ok(Some(message)), Ok(len)) = (head, r.u64()) else {
            return Ok(None);
        };
        let rest = r.rest();
        let offset = prefix.len() - rest.len();
        if usize::try_from(len).ok().and_then(|l| l.checked_add(offset)) != Some(total) {
            return Err(DecodeError(format!("a payload of {len} bytes at {offset} does not end at {total}")));
        }
        Ok(Some(PayloadAt { message, offset, len: total - offset }))
    }

    /// Replace the payload of a request, response or event (other messages have none).
    pub fn set_payload(&mut self, bytes: Vec<u8>) {
        if let Message::Request { payload, .. } | Message::Response { payload, .. } | Message::Event { payload, .. } =
            self
        {
            *payload = bytes;
        }
    }
}

/// How a method is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MethodKind {
    /// Request and response.
    Call,
    /// One-way event.
    Event,
}

/// A method in the registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodInfo {
    /// Its id within the service.
    pub id: u32,
    /// Its name.
    pub name: String,
    /// How it is called.
    pub kind: MethodKind,
}

/// A service in the registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    /// Its id.
    pub id: u32,
    /// The data channel it is served on.
    pub channel: u32,
    /// Its name.
    pub name: String,
    /// Its methods.
    pub methods: Vec<MethodInfo>,
}

/// The services a peer offers, serialisable (postcard on the wire, JSON for introspection).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    /// The services.
    pub services: Vec<ServiceInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Message> {
        vec![
            Message::Hello { version: PROTOCOL_VERSION, pid: 42 },
            Message::Request {
                id: 7,
                channel: 1,
                service: "log".into(),
                method: "write".into(),
                payload: vec![1, 2, 3],
            },
            Message::Response { id: 7, payload: vec![0; 300] },
            Message::Failure { id: 8, status: 200, message: "no such service".into() },
            Message::Event { channel: 1, topic: "t".into(), payload: Vec::new() },
            Message::Heartbeat { sequence: u64::MAX },
            Message::Goodbye,
        ]
    }

    #[test]
    fn every_message_round_trips() {
        let mut buffer = Vec::new();
        for m in samples() {
            m.encode_into(&mut buffer);
            assert_eq!(Message::decode(&buffer).unwrap(), m);
            assert_eq!(m.encode(), buffer);
        }
    }

    #[test]
    fn borrowed_decoding_agrees_with_owned_decoding() {
        for m in samples() {
            let full = m.encode();
            assert_eq!(MessageRef::decode(&full).unwrap(), m.as_ref());
            for cut in 0..full.len() {
                assert!(MessageRef::decode(&full[..cut]).is_err(), "{m:?} cut at {cut}");
            }
            let mut longer = full.clone();
            longer.push(0);
            assert!(MessageRef::decode(&longer).is_err());
        }
        assert!(MessageRef::decode(&[200]).is_err(), "unknown variant");
        // Invalid UTF-8 in a name is refused by both.
        let mut bytes =
            Message::Request { id: 1, channel: 1, service: "s".into(), method: "m".into(), payload: vec![] }.encode();
        let at = bytes.iter().position(|&b| b == b's').unwrap();
        bytes[at] = 0xff;
        assert!(Message::decode(&bytes).is_err());
        assert!(MessageRef::decode(&bytes).is_err());
    }

    /// postcard's own decoding of `bytes` as a whole [`Message`].
    fn postcard_decode(bytes: &[u8]) -> Option<Message> {
        match postcard::take_from_bytes::<Message>(bytes) {
            Ok((message, [])) => Some(message),
            _ => None,
        }
    }

    fn assert_agrees(bytes: &[u8]) {
        assert_eq!(Message::decode(bytes).ok(), postcard_decode(bytes), "{bytes:?}");
    }

    #[test]
    fn the_reader_accepts_and_refuses_what_postcard_does() {
        let mut with_names = samples();
        with_names.push(Message::Event { channel: u32::MAX, topic: "état ✓".into(), payload: vec![0xff; 3] });
        with_names.push(Message::Failure { id: 1 << 40, status: -5, message: String::new() });
        for m in with_names {
            let full = m.encode();
            for cut in 0..=full.len() {
                assert_agrees(&full[..cut]);
            }
            for at in 0..full.len() {
                for value in [0u8, 1, 0x0f, 0x10, 0x7f, 0x80, 0xc3, 0xff, full[at].wrapping_add(1)] {
                    let mut changed = full.clone();
                    changed[at] = value;
                    assert_agrees(&changed);
                }
            }
        }
        // Varint limits: a u32's fifth byte carries 4 bits; a u64's tenth carries 1; an encoding
        // longer than necessary is accepted by both.
        for bytes in [
            &[0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0][..],
            &[0, 0xff, 0xff, 0xff, 0xff, 0x10, 0],
            &[0, 0x80, 0x00, 0x81, 0x00],
            &[5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            &[5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            &[5, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
        ] {
            assert_agrees(bytes);
        }
        // Short random inputs led by every kind (a fixed xorshift sequence).
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..50_000 {
            let len = (next() % 24) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if let Some(first) = bytes.first_mut() {
                *first %= 8;
            }
            assert_agrees(&bytes);
        }
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert!(Message::decode(&[]).is_err());
        assert!(Message::decode(&[200]).is_err(), "unknown variant");
        let mut bytes = Message::Goodbye.encode();
        bytes.push(0);
        assert!(Message::decode(&bytes).unwrap_err().0.contains("after the message"));
        // A request whose payload length prefix claims far more than the input holds.
        let mut bytes =
            Message::Request { id: 1, channel: 1, service: "s".into(), method: "m".into(), payload: vec![] }.encode();
        bytes.pop();
        bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(Message::decode(&bytes).is_err());
        // Every truncation of every sample fails cleanly.
        for m in samples() {
            let full = m.encode();
            for cut in 0..full.len() {
                assert!(Message::decode(&full[..cut]).is_err(), "{m:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn payloads_encode_as_a_sequence_of_bytes_would() {
        #[derive(Serialize)]
        struct AsSeq(Vec<u8>);
        for len in [0usize, 1, 127, 128, 300, 70_000] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let m = Message::Response { id: 3, payload: payload.clone() };
            // The variant index of Response (2), the id (3), then the payload as a sequence.
            let mut expected = vec![2u8, 3];
            expected.extend(postcard::to_allocvec(&AsSeq(payload)).unwrap());
            assert_eq!(m.encode(), expected, "{len} bytes");
        }
    }

    #[test]
    fn heads_decode_like_whole_messages() {
        let mut with_payloads = 0;
        for m in samples() {
            let full = m.encode();
            for cut in 0..=full.len() {
                match Message::decode_head(&full[..cut], full.len()).unwrap() {
                    None => {}
                    Some(at) => {
                        let mut decoded = at.message;
                        decoded.set_payload(full[at.offset..].to_vec());
                        assert_eq!(at.offset + at.len, full.len());
                        assert_eq!(decoded, m, "cut at {cut}");
                        with_payloads += 1;
                    }
                }
            }
            // A total that disagrees with the payload's length is an error once the head is read.
            if matches!(m, Message::Request { .. } | Message::Response { .. } | Message::Event { .. }) {
                assert!(Message::decode_head(&full, full.len() + 1).is_err(), "{m:?}");
            }
        }
        assert!(with_payloads > 0);
        assert!(Message::decode_head(&[], 0).unwrap().is_none());
        assert!(Message::decode_head(&[200], 1).unwrap().is_none(), "unknown variant: left to decode");
    }

    #[test]
    fn registry_serialises_both_ways() {
        let registry = Registry {
            services: vec![ServiceInfo {
                id: 1,
                channel: 1,
                name: "storage".into(),
                methods: vec![MethodInfo { id: 1, name: "get".into(), kind: MethodKind::Call }],
            }],
        };
        let json = serde_json::to_string(&registry).unwrap();
        assert_eq!(serde_json::from_str::<Registry>(&json).unwrap(), registry);
        let wire = postcard::to_allocvec(&registry).unwrap();
        assert_eq!(postcard::from_bytes::<Registry>(&wire).unwrap(), registry);
    }
}
