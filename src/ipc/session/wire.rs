//! Outgoing messages, borrowed: the same postcard encoding as
//! [`Message`](crate::ipc::message::Message), without copying the
//! service, method, topic and payload into owned values first.
//!
//! The variants mirror `Message`'s in the same order (postcard encodes the variant's index), so
//! the receiver decodes them as [`Message`]s; a test checks every variant byte for byte.

#[cfg(test)]
use crate::ipc::message::Message;
use serde::Serialize;

/// A message to send, borrowing its strings and payload. Every variant exists so that the
/// indices match `Message`'s, including those this side never sends.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, Serialize)]
pub enum Outgoing<'a> {
    /// [`crate::ipc::message::Message::Hello`].
    Hello {
        /// The protocol version.
        version: u32,
        /// The sender's process id.
        pid: u32,
    },
    /// [`crate::ipc::message::Message::Request`].
    Request {
        /// The caller's request id.
        id: u64,
        /// The data channel.
        channel: u32,
        /// The service.
        service: &'a str,
        /// The method.
        method: &'a str,
        /// The argument bytes.
        #[serde(serialize_with = "crate::ipc::message::bytes::serialize")]
        payload: &'a [u8],
    },
    /// [`crate::ipc::message::Message::Response`].
    Response {
        /// The request's id.
        id: u64,
        /// The result bytes.
        #[serde(serialize_with = "crate::ipc::message::bytes::serialize")]
        payload: &'a [u8],
    },
    /// [`crate::ipc::message::Message::Failure`].
    Failure {
        /// The request's id.
        id: u64,
        /// A `PLUGHOST_ERR_*` status.
        status: i32,
        /// What went wrong.
        message: &'a str,
    },
    /// [`crate::ipc::message::Message::Event`].
    Event {
        /// The data channel.
        channel: u32,
        /// The topic.
        topic: &'a str,
        /// The payload.
        #[serde(serialize_with = "crate::ipc::message::bytes::serialize")]
        payload: &'a [u8],
    },
    /// [`crate::ipc::message::Message::Heartbeat`].
    Heartbeat {
        /// The sequence.
        sequence: u64,
    },
    /// [`crate::ipc::message::Message::Goodbye`].
    Goodbye,
}

impl Outgoing<'_> {
    /// Encode into `out` (cleared first), reusing its allocation.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.clear();
        *out = postcard::to_extend(self, std::mem::take(out)).expect("encoding into a Vec cannot fail");
    }

    /// Encode everything before the payload's bytes into `out` (cleared first), the payload's
    /// length included, and return the payload: `out` followed by the payload is what
    /// [`Outgoing::encode_into`] writes, without copying the payload. Requests, responses and
    /// events (the messages of every call) are written directly, in postcard's format: the
    /// variant's index, then each field (integers as varints, strings and byte strings as a
    /// varint length and the bytes).
    pub fn encode_head_into<'a>(&self, out: &mut Vec<u8>) -> &'a [u8]
    where
        Self: 'a,
    {
        out.clear();
        match *self {
            Outgoing::Request { id, channel, service, method, payload } => {
                push_varint(out, REQUEST);
                push_varint(out, id);
                push_varint(out, u64::from(channel));
                push_str(out, service);
                push_str(out, method);
                push_varint(out, payload.len() as u64);
                payload
            }
            Outgoing::Response { id, payload } => {
                push_varint(out, RESPONSE);
                push_varint(out, id);
                push_varint(out, payload.len() as u64);
                payload
            }
            Outgoing::Event { channel, topic, payload } => {
                push_varint(out, EVENT);
                push_varint(out, u64::from(channel));
                push_str(out, topic);
                push_varint(out, payload.len() as u64);
                payload
            }
            other => {
                other.encode_into(out);
                &[]
            }
        }
    }
}

/// The variant indices postcard writes for [`Outgoing::Request`], [`Outgoing::Response`] and
/// [`Outgoing::Event`] (their places in the enum).
const REQUEST: u64 = 1;
const RESPONSE: u64 = 2;
const EVENT: u64 = 4;

/// Append `value` as a postcard varint: seven bits per byte, least significant first, the high
/// bit set on every byte but the last.
fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Append a string as postcard does: its length as a varint, then its bytes.
fn push_str(out: &mut Vec<u8>, text: &str) {
    push_varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

/// The [`Message`] an [`Outgoing`] decodes to (for tests).
#[cfg(test)]
fn owned(m: &Outgoing<'_>) -> Message {
    match *m {
        Outgoing::Hello { version, pid } => Message::Hello { version, pid },
        Outgoing::Request { id, channel, service, method, payload } => {
            Message::Request { id, channel, service: service.into(), method: method.into(), payload: payload.into() }
        }
        Outgoing::Response { id, payload } => Message::Response { id, payload: payload.into() },
        Outgoing::Failure { id, status, message } => Message::Failure { id, status, message: message.into() },
        Outgoing::Event { channel, topic, payload } => {
            Message::Event { channel, topic: topic.into(), payload: payload.into() }
        }
        Outgoing::Heartbeat { sequence } => Message::Heartbeat { sequence },
        Outgoing::Goodbye => Message::Goodbye,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_encodes_like_the_owned_message() {
        let big = vec![7u8; 70_000];
        let cases = [
            Outgoing::Hello { version: 1, pid: u32::MAX },
            Outgoing::Request { id: u64::MAX, channel: 3, service: "svc", method: "m", payload: b"abc" },
            Outgoing::Response { id: 9, payload: &big },
            Outgoing::Failure { id: 1, status: -5, message: "no" },
            Outgoing::Event { channel: 1, topic: "t", payload: &[] },
            Outgoing::Event { channel: 2, topic: "topic", payload: &big[..200] },
            Outgoing::Request { id: 5, channel: 1, service: "s", method: "m", payload: &big[..16_384] },
            Outgoing::Heartbeat { sequence: 300 },
            Outgoing::Goodbye,
        ];
        let mut buffer = Vec::new();
        for case in cases {
            case.encode_into(&mut buffer);
            assert_eq!(buffer, owned(&case).encode(), "{case:?}");
            assert_eq!(Message::decode(&buffer).unwrap(), owned(&case));
            let mut head = Vec::new();
            let payload = case.encode_head_into(&mut head);
            head.extend_from_slice(payload);
            assert_eq!(head, buffer, "{case:?} in two parts");
        }
    }
}
