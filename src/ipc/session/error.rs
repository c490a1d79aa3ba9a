//! The errors of a session, and their mapping onto the crate's status codes.

use crate::error::{Error, ErrorKind};
use crate::status::PLUGHOST_ERR_SERVICE_NOT_FOUND;
use std::fmt;

/// Why a session operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IpcError {
    /// The peer died: its process exited or its heartbeat stopped. Every call in flight failed
    /// with this at once, and every later operation fails with it too.
    PeerDead(String),
    /// The deadline passed: no answer came, or the peer kept the ring or the slot pool full.
    Timeout,
    /// The peer sent a malformed frame or message (a counted event); the session is broken.
    Malformed(String),
    /// The peer's handler failed with this status and message.
    Remote {
        /// A `PLUGHOST_ERR_*` status chosen by the peer's handler.
        status: i32,
        /// The handler's message.
        message: String,
    },
    /// The peer has no service of that name.
    NoSuchService(String),
    /// The session is closed, by this side or by the peer's goodbye.
    Closed,
    /// The message is larger than the largest slot of the geometry.
    TooLarge {
        /// Encoded message bytes.
        len: usize,
        /// The largest slot's size.
        max: usize,
    },
    /// The session could not be set up (segment, hand-off, geometry, threads).
    Setup(String),
    /// The peer speaks another protocol version (its hello said so); the session is closed.
    Incompatible {
        /// This side's [`PROTOCOL_VERSION`](crate::ipc::message::PROTOCOL_VERSION).
        ours: u32,
        /// The peer's.
        theirs: u32,
    },
    /// An argument was refused before anything was sent (e.g. the control channel).
    InvalidArgument(String),
}

impl IpcError {
    /// The status code this error maps onto.
    pub fn kind(&self) -> ErrorKind {
        match self {
            IpcError::PeerDead(_) => ErrorKind::IpcPeerDead,
            IpcError::Timeout => ErrorKind::IpcTimeout,
            IpcError::Malformed(_) => ErrorKind::IpcMalformed,
            IpcError::Remote { .. } => ErrorKind::IpcRemoteFailed,
            IpcError::NoSuchService(_) => ErrorKind::ServiceNotFound,
            IpcError::Closed => ErrorKind::IpcClosed,
            IpcError::TooLarge { .. } => ErrorKind::IpcTooLarge,
            IpcError::Setup(_) => ErrorKind::IpcSetup,
            IpcError::Incompatible { .. } => ErrorKind::IpcIncompatible,
            IpcError::InvalidArgument(_) => ErrorKind::InvalidArgument,
        }
    }

    /// The error a `Failure` message with `status` and `message` stands for.
    pub(super) fn from_failure(status: i32, message: String) -> Self {
        if status == PLUGHOST_ERR_SERVICE_NOT_FOUND {
            IpcError::NoSuchService(message)
        } else {
            IpcError::Remote { status, message }
        }
    }
}

impl fmt::Display for IpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpcError::PeerDead(why) => write!(f, "the IPC peer died: {why}"),
            IpcError::Timeout => f.write_str("the IPC deadline passed"),
            IpcError::Malformed(what) => write!(f, "the IPC peer sent malformed data: {what}"),
            IpcError::Remote { status, message } => {
                let name = ErrorKind::from_code(*status).map_or("PLUGHOST_ERR_UNKNOWN", ErrorKind::name);
                write!(f, "the IPC peer's handler failed with {name} ({status}): {message}")
            }
            IpcError::NoSuchService(what) => write!(f, "the IPC peer has no such service: {what}"),
            IpcError::Closed => f.write_str("the IPC session is closed"),
            IpcError::TooLarge { len, max } => {
                write!(f, "an IPC message of {len} bytes is larger than the largest slot ({max} bytes)")
            }
            IpcError::Setup(what) => write!(f, "the IPC session could not be set up: {what}"),
            IpcError::Incompatible { ours, theirs } => {
                write!(f, "the IPC peer speaks protocol version {theirs}, this side speaks {ours}")
            }
            IpcError::InvalidArgument(what) => write!(f, "invalid IPC argument: {what}"),
        }
    }
}

impl std::error::Error for IpcError {}

impl From<IpcError> for Error {
    fn from(e: IpcError) -> Self {
        Error::new(e.kind(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_maps_to_its_status() {
        let cases = [
            (IpcError::PeerDead("exited".into()), ErrorKind::IpcPeerDead),
            (IpcError::Timeout, ErrorKind::IpcTimeout),
            (IpcError::Malformed("x".into()), ErrorKind::IpcMalformed),
            (IpcError::Remote { status: 201, message: "m".into() }, ErrorKind::IpcRemoteFailed),
            (IpcError::NoSuchService("s".into()), ErrorKind::ServiceNotFound),
            (IpcError::Closed, ErrorKind::IpcClosed),
            (IpcError::TooLarge { len: 2, max: 1 }, ErrorKind::IpcTooLarge),
            (IpcError::Setup("s".into()), ErrorKind::IpcSetup),
            (IpcError::Incompatible { ours: 1, theirs: 2 }, ErrorKind::IpcIncompatible),
            (IpcError::InvalidArgument("c".into()), ErrorKind::InvalidArgument),
        ];
        for (e, kind) in cases {
            let error = Error::from(e.clone());
            assert_eq!(error.kind(), kind, "{e}");
            assert_eq!(error.message(), e.to_string());
        }
        assert!(IpcError::Remote { status: 201, message: "m".into() }.to_string().contains("SERVICE_FAILED"));
        assert_eq!(IpcError::from_failure(200, "s".into()), IpcError::NoSuchService("s".into()));
    }
}
