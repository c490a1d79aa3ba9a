//! Encoding outgoing messages from their borrowed form, [`MessageRef`]: the same postcard
//! encoding as [`Message`](crate::ipc::message::Message), without copying the service, method,
//! topic and payload into owned values first. The hot heads (requests, responses, events) are
//! written by hand; a test checks every variant byte for byte against the owned message.

#[cfg(test)]
use crate::ipc::message::Message;
use crate::ipc::message::{MessageRef, EVENT, REQUEST, RESPONSE};

impl MessageRef<'_> {
    /// Encode into `out` (cleared first), reusing its allocation.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.clear();
        *out = postcard::to_extend(self, std::mem::take(out)).expect("encoding into a Vec cannot fail");
    }

    /// Encode everything before the payload's bytes into `out` (cleared first), the payload's
    /// length included, and return the payload: `out` followed by the payload is what
    /// [`MessageRef::encode_into`] writes, without copying the payload. Requests, responses and
    /// events (the messages of every call) are written directly, in postcard's format: the
    /// variant's index, then each field (integers as varints, strings and byte strings as a
    /// varint length and the bytes).
    pub fn encode_head_into<'a>(&self, out: &mut Vec<u8>) -> &'a [u8]
    where
        Self: 'a,
    {
        out.clear();
        match *self {
            MessageRef::Request { id, channel, service, method, payload } => {
                push_varint(out, REQUEST.into());
                push_varint(out, id);
                push_varint(out, u64::from(channel));
                push_str(out, service);
                push_str(out, method);
                push_varint(out, payload.len() as u64);
                payload
            }
            MessageRef::Response { id, payload } => {
                push_varint(out, RESPONSE.into());
                push_varint(out, id);
                push_varint(out, payload.len() as u64);
                payload
            }
            MessageRef::Event { channel, topic, payload } => {
                push_varint(out, EVENT.into());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_encodes_like_the_owned_message() {
        let big = vec![7u8; 70_000];
        let cases = [
            MessageRef::Hello { version: 1, pid: u32::MAX },
            MessageRef::Request { id: u64::MAX, channel: 3, service: "svc", method: "m", payload: b"abc" },
            MessageRef::Response { id: 9, payload: &big },
            MessageRef::Failure { id: 1, status: -5, message: "no" },
            MessageRef::Event { channel: 1, topic: "t", payload: &[] },
            MessageRef::Event { channel: 2, topic: "topic", payload: &big[..200] },
            MessageRef::Request { id: 5, channel: 1, service: "s", method: "m", payload: &big[..16_384] },
            MessageRef::Heartbeat { sequence: 300 },
            MessageRef::Goodbye,
        ];
        let mut buffer = Vec::new();
        for case in cases {
            case.encode_into(&mut buffer);
            assert_eq!(buffer, Message::from(case).encode(), "{case:?}");
            assert_eq!(Message::decode(&buffer).unwrap(), Message::from(case));
            let mut head = Vec::new();
            let payload = case.encode_head_into(&mut head);
            head.extend_from_slice(payload);
            assert_eq!(head, buffer, "{case:?} in two parts");
        }
    }
}
