//! [`PluginError`]: how a plugin's command, or a host service it called, failed.

use crate::error::{Error, ErrorKind};
use crate::ipc::session::IpcError;
use crate::status::{PLUGHOST_ERR_SERVICE_FAILED, PLUGHOST_ERR_SERVICE_NOT_FOUND};
use std::fmt;

/// A failure with a `PLUGHOST_ERR_*` status and a message. Returned by a [`Plugin`](super::Plugin)'s
/// methods (the host's caller gets both), and by the host services of
/// [`PluginHost`](super::PluginHost) (a failure on the host's side keeps the host's status, for
/// example `PLUGHOST_ERR_SERVICE_NOT_FOUND`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginError {
    /// A `PLUGHOST_ERR_*` status (never `PLUGHOST_OK`).
    pub status: i32,
    /// What went wrong.
    pub message: String,
}

impl PluginError {
    /// A failure with the status `PLUGHOST_ERR_SERVICE_FAILED`.
    pub fn new(message: impl Into<String>) -> Self {
        Self::with_status(PLUGHOST_ERR_SERVICE_FAILED, message)
    }

    /// A failure with `status`; a number that is no `PLUGHOST_ERR_*` status (`PLUGHOST_OK`
    /// included) becomes `PLUGHOST_ERR_SERVICE_FAILED`.
    pub fn with_status(status: i32, message: impl Into<String>) -> Self {
        let status = if ErrorKind::from_code(status).is_some() { status } else { PLUGHOST_ERR_SERVICE_FAILED };
        PluginError { status, message: message.into() }
    }

    /// The status's kind.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::from_code(self.status).unwrap_or(ErrorKind::ServiceFailed)
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.kind().name(), self.status, self.message)
    }
}

impl std::error::Error for PluginError {}

impl From<String> for PluginError {
    fn from(message: String) -> Self {
        PluginError::new(message)
    }
}

impl From<&str> for PluginError {
    fn from(message: &str) -> Self {
        PluginError::new(message)
    }
}

impl From<IpcError> for PluginError {
    /// A failure of the host's handler keeps its status and message; any other session error
    /// (the host died, a timeout, ...) has its own status.
    fn from(e: IpcError) -> Self {
        match e {
            IpcError::Remote { status, message } => PluginError::with_status(status, message),
            IpcError::NoSuchService(message) => PluginError::with_status(PLUGHOST_ERR_SERVICE_NOT_FOUND, message),
            other => PluginError::with_status(other.kind().code(), other.to_string()),
        }
    }
}

impl From<PluginError> for Error {
    fn from(e: PluginError) -> Self {
        Error::new(e.kind(), e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::*;

    #[test]
    fn statuses_are_kept_or_normalised() {
        assert_eq!(PluginError::new("x").status, PLUGHOST_ERR_SERVICE_FAILED);
        assert_eq!(PluginError::with_status(PLUGHOST_ERR_KEY_NOT_FOUND, "k").status, PLUGHOST_ERR_KEY_NOT_FOUND);
        assert_eq!(PluginError::with_status(12_345, "odd").status, PLUGHOST_ERR_SERVICE_FAILED);
        assert_eq!(PluginError::with_status(PLUGHOST_OK, "ok?").status, PLUGHOST_ERR_SERVICE_FAILED);
        assert_eq!(PluginError::from("m").to_string(), "PLUGHOST_ERR_SERVICE_FAILED (201): m");
        let remote = IpcError::Remote { status: PLUGHOST_ERR_LIMIT_REACHED, message: "full".into() };
        assert_eq!(PluginError::from(remote), PluginError::with_status(PLUGHOST_ERR_LIMIT_REACHED, "full"));
        assert_eq!(PluginError::from(IpcError::NoSuchService("s".into())).status, PLUGHOST_ERR_SERVICE_NOT_FOUND);
        assert_eq!(PluginError::from(IpcError::Timeout).status, PLUGHOST_ERR_IPC_TIMEOUT);
        let error = Error::from(PluginError::with_status(PLUGHOST_ERR_KEY_NOT_FOUND, "k"));
        assert_eq!((error.kind(), error.message()), (ErrorKind::KeyNotFound, "k"));
    }
}
