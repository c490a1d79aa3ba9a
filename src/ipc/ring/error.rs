//! The ring's errors.

use std::fmt;

use crate::ipc::frame::FrameError;

/// Why a ring half cannot be created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingSetupError(pub String);

impl fmt::Display for RingSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RingSetupError {}

/// What a hostile or broken peer did to a ring. Once one is seen the ring is broken: every later
/// call on that half returns it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corruption {
    /// The consumer's cursor went backwards, past the producer's, or is not 64-aligned.
    Head {
        /// The value read from shared memory.
        head: u64,
        /// The producer's own cursor.
        tail: u64,
    },
    /// A malformed frame.
    Frame {
        /// Its cursor value (byte count from the ring's start).
        position: u64,
        /// What is wrong with it.
        error: FrameError,
    },
    /// A memory access outside the region. Construction checks the bounds, so this is never
    /// expected; it is reported instead of panicking.
    OutOfRegion,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corruption::Head { head, tail } => write!(f, "impossible ring head {head} (tail {tail})"),
            Corruption::Frame { position, error } => write!(f, "malformed frame at ring position {position}: {error}"),
            Corruption::OutOfRegion => write!(f, "ring access outside the shared region"),
        }
    }
}

/// Why [`Producer::try_send`](super::Producer::try_send) did not send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// Not enough free space now; nothing was written. Wait for the consumer and retry.
    Full,
    /// PAD frames are written by the ring itself.
    PadNotSendable,
    /// The frame breaks the local limits (the receiver would refuse it); nothing was written.
    Invalid(FrameError),
    /// The consumer's cursor is impossible; the ring is broken.
    Corrupted(Corruption),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full => write!(f, "ring full"),
            SendError::PadNotSendable => write!(f, "PAD frames are written by the ring itself"),
            SendError::Invalid(e) => write!(f, "frame refused: {e}"),
            SendError::Corrupted(c) => write!(f, "ring corrupted: {c}"),
        }
    }
}

impl std::error::Error for SendError {}

/// Why [`Consumer::try_recv`](super::Consumer::try_recv) failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// The peer corrupted the ring (counted once); the ring is broken and every later call returns
    /// this again.
    Corrupted(Corruption),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Corrupted(c) => write!(f, "ring corrupted: {c}"),
        }
    }
}

impl std::error::Error for RecvError {}
