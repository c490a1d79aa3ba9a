//! The application's `void* user_data` and its optional destroy callback.

use std::ffi::c_void;

/// A destroy callback: called exactly once with the user data when plughost no longer needs it —
/// also when the call that registered it fails (plughost owns the user data from that call on).
pub type plughost_destroy_callback = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// User data handed back to a callback. Dropping it calls the destroy callback, after the last
/// use, on whichever thread drops the last reference.
pub(crate) struct UserData {
    pointer: *mut c_void,
    destroy: plughost_destroy_callback,
}

// SAFETY: the C API documents that callbacks (and so their user data) may be used from any thread;
// the application guarantees its user data is safe to use so.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

impl UserData {
    pub(crate) fn new(pointer: *mut c_void, destroy: plughost_destroy_callback) -> Self {
        Self { pointer, destroy }
    }

    pub(crate) fn get(&self) -> *mut c_void {
        self.pointer
    }
}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(destroy) = self.destroy {
            // SAFETY: the application registered this pair; plughost calls destroy exactly once.
            let _ = std::panic::catch_unwind(|| unsafe { destroy(self.pointer) });
        }
    }
}
