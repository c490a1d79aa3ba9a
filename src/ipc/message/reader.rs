//! A reader of the postcard encoding of [`MessageRef`](super::MessageRef) over local bytes
//! (already copied out of shared memory), written out by hand for the hot path: it accepts and
//! refuses exactly what postcard's own decoder does (a test checks both on every sample, every
//! truncation, many single-byte changes and random inputs), without serde's indirection, and
//! validates the common ASCII names without a call into the UTF-8 validator.
//!
//! Every read is bounds-checked against the input; a length prefix is compared with the bytes
//! left before anything is taken, so nothing is allocated from an untrusted size.

use super::DecodeError;

/// Why a read failed: a small value that stays in registers on the hot path; it becomes a
/// [`DecodeError`] (with its text) only when a message is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReadError {
    /// The input ends before the field does.
    EndOfInput,
    /// A varint longer than its type allows, or too large for it.
    Varint,
    /// A string that is not UTF-8.
    Utf8,
    /// Bytes left after the message.
    Trailing(usize),
    /// A message kind this version does not know.
    Kind(u32),
}

impl From<ReadError> for DecodeError {
    fn from(e: ReadError) -> Self {
        DecodeError(match e {
            ReadError::EndOfInput => "the message ends early".into(),
            ReadError::Varint => "a malformed varint".into(),
            ReadError::Utf8 => "a string that is not UTF-8".into(),
            ReadError::Trailing(n) => format!("{n} bytes after the message"),
            ReadError::Kind(kind) => format!("unknown message kind {kind}"),
        })
    }
}

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
    pub fn finish(&self) -> Result<(), ReadError> {
        match self.rest.len() {
            0 => Ok(()),
            n => Err(ReadError::Trailing(n)),
        }
    }

    #[inline(always)]
    fn byte(&mut self) -> Result<u8, ReadError> {
        let (&first, rest) = self.rest.split_first().ok_or(ReadError::EndOfInput)?;
        self.rest = rest;
        Ok(first)
    }

    /// A LEB128 varint of at most `BYTES` bytes whose last byte is at most `LAST` (postcard's
    /// rules for a `u32` and a `u64`; a longer or overflowing varint is an error).
    #[inline(always)]
    fn varint<const BYTES: usize, const LAST: u8>(&mut self) -> Result<u64, ReadError> {
        // The common case first: a value below 128 is one byte.
        if let Some((&first, rest)) = self.rest.split_first() {
            if first < 0x80 {
                self.rest = rest;
                return Ok(u64::from(first));
            }
        }
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
        Err(ReadError::Varint)
    }

    /// A `u32`.
    #[inline(always)]
    pub fn u32(&mut self) -> Result<u32, ReadError> {
        // Five bytes at most, the last one carrying the top 4 bits: the value fits.
        self.varint::<5, 0x0f>().map(|v| v as u32)
    }

    /// A `u64`.
    #[inline(always)]
    pub fn u64(&mut self) -> Result<u64, ReadError> {
        self.varint::<10, 0x01>()
    }

    /// An `i32` (zigzag-encoded).
    pub fn i32(&mut self) -> Result<i32, ReadError> {
        let n = self.u32()?;
        Ok(((n >> 1) as i32) ^ -((n & 1) as i32))
    }

    /// A length-prefixed run of bytes, borrowed.
    #[inline(always)]
    pub fn bytes(&mut self) -> Result<&'a [u8], ReadError> {
        let len = self.u64()?;
        let len = usize::try_from(len).ok().filter(|&l| l <= self.rest.len()).ok_or(ReadError::EndOfInput)?;
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    /// A length-prefixed UTF-8 string, borrowed.
    #[inline(always)]
    pub fn str(&mut self) -> Result<&'a str, ReadError> {
        let bytes = self.bytes()?;
        if bytes.is_ascii() {
            // SAFETY: ASCII bytes are valid UTF-8.
            return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
        }
        std::str::from_utf8(bytes).map_err(|_| ReadError::Utf8)
    }
}
