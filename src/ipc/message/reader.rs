//! A reader of the postcard encoding of [`MessageRef`](super::MessageRef) over local bytes
//! (already copied out of shared memory), written out by hand for the hot path: it accepts and
//! refuses exactly what postcard's own decoder does (a test checks both on every sample, every
//! truncation, many single-byte changes and random inputs), without serde's indirection, and
//! validates the common ASCII names without a call into the UTF-8 validator.
//!
//! Every read is bounds-checked against the input; a length prefix is compared with the bytes
//! left before anything is taken, so nothing is allocated from an untrusted size.

use super::DecodeError;

/// A cursor over the bytes of one encoded message.
pub(super) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Refuse bytes left after the message.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.rest.len() {
            0 => Ok(()),
            n => Err(DecodeError(format!("{n} bytes after the message"))),
        }
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let (&first, rest) = self.rest.split_first().ok_or_else(end_of_input)?;
        self.rest = rest;
        Ok(first)
    }

    /// A LEB128 varint of at most `BYTES` bytes whose last byte is at most `LAST` (postcard's
    /// rules for a `u32` and a `u64`; a longer or overflowing varint is an error).
    fn varint<const BYTES: usize, const LAST: u8>(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for i in 0..BYTES {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                if i == BYTES - 1 && byte > LAST {
                    break;
                }
                return Ok(value);
            }
        }
        Err(DecodeError("a malformed varint".into()))
    }

    /// A `u32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        // Five bytes at most, the last one carrying the top 4 bits: the value fits.
        self.varint::<5, 0x0f>().map(|v| v as u32)
    }

    /// A `u64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        self.varint::<10, 0x01>()
    }

    /// An `i32` (zigzag-encoded).
    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        let n = self.u32()?;
        Ok(((n >> 1) as i32) ^ -((n & 1) as i32))
    }

    /// A length-prefixed run of bytes, borrowed.
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u64()?;
        let len = usize::try_from(len).ok().filter(|&l| l <= self.rest.len()).ok_or_else(end_of_input)?;
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    /// A length-prefixed UTF-8 string, borrowed.
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        let bytes = self.bytes()?;
        if bytes.is_ascii() {
            // SAFETY: ASCII bytes are valid UTF-8.
            return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
        }
        std::str::from_utf8(bytes).map_err(|e| DecodeError(format!("a string that is not UTF-8: {e}")))
    }
}

fn end_of_input() -> DecodeError {
    DecodeError("the message ends early".into())
}
