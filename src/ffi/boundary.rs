//! The panic boundary and result helper every export goes through.

use super::last_error;
use super::module_sdk::panic_message;
use crate::error::{Error, ErrorKind, Result};
use crate::status::PLUGHOST_OK;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Run `body`; map `Ok` to `PLUGHOST_OK`, an error to its status (recording the last error), and a
/// panic to `PLUGHOST_ERR_PANIC`. Nothing unwinds past this point.
#[inline]
pub(crate) fn status(body: impl FnOnce() -> Result<()>) -> i32 {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => PLUGHOST_OK,
        Ok(Err(error)) => last_error::record(&error),
        Err(payload) => last_error::record(&Error::new(
            ErrorKind::Panic,
            format!("plughost panicked: {}", panic_message(payload.as_ref())),
        )),
    }
}

/// Run `body` where there is no status to return; a panic yields `fallback`.
pub(crate) fn infallible<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}
