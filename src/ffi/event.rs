//! The event bus: publish and subscribe by topic.

use super::args;
use super::boundary::status;
use super::host::{live, plughost_host};
use super::user_data::{plughost_destroy_callback, UserData};
use crate::error::{Error, ErrorKind};
use crate::events::Event;
use std::ffi::c_void;
use std::sync::Arc;

/// An event callback. `topic` and `source` (UTF-8: "host" or a module's name) and `payload` are
/// valid only during the call; `sequence` grows with every event of the host. Runs on the
/// publishing thread, possibly on several threads at once.
pub type plughost_event_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        topic: *const u8,
        topic_len: usize,
        source: *const u8,
        source_len: usize,
        payload: *const u8,
        payload_len: usize,
        sequence: u64,
    ),
>;

/// Publish `payload` on `topic` (UTF-8) from the host; subscribers run before this returns.
///
/// # Safety
/// `host` from `plughost_host_new`; `topic` and `payload` valid for their lengths.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_event_publish(
    host: *const plughost_host,
    topic: *const u8,
    topic_len: usize,
    payload: *const u8,
    payload_len: usize,
) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let (h, topic, payload) = unsafe {
            (live(host)?, args::name(topic, topic_len, "topic")?, args::bytes(payload, payload_len, "payload")?)
        };
        h.publish(topic, payload).map(|_| ())
    })
}

/// Subscribe to `topic` (UTF-8; "*" for every topic) and write the subscription id to
/// `out_subscription`. `destroy_user_data` (may be NULL) runs after unsubscribe or host free, once
/// no delivery uses it.
///
/// plughost owns `user_data` from this call on, even when it fails: on failure `destroy_user_data`
/// runs before the call returns.
///
/// # Safety
/// `host` from `plughost_host_new`; `topic` valid for `topic_len` bytes; `out_subscription` valid
/// for a write; callback and user data valid until destroyed.
///
/// Threads: any; the callback runs on publishing threads.
#[no_mangle]
pub unsafe extern "C" fn plughost_event_subscribe(
    host: *const plughost_host,
    topic: *const u8,
    topic_len: usize,
    callback: plughost_event_callback,
    user_data: *mut c_void,
    destroy_user_data: plughost_destroy_callback,
    out_subscription: *mut u64,
) -> i32 {
    let user = UserData::new(user_data, destroy_user_data);
    status(move || {
        // SAFETY: the caller's contract.
        let (h, topic) = unsafe { (live(host)?, args::name(topic, topic_len, "topic")?) };
        {
            let out = args::out(out_subscription, "out_subscription")?;
            let callback = callback.ok_or_else(|| Error::new(ErrorKind::NullArgument, "callback is NULL"))?;
            let handler = Arc::new(move |e: &Event| {
                // SAFETY: registered by the application for this signature; slices valid for the call.
                unsafe {
                    callback(
                        user.get(),
                        e.topic.as_ptr(),
                        e.topic.len(),
                        e.source.as_ptr(),
                        e.source.len(),
                        e.payload.as_ptr(),
                        e.payload.len(),
                        e.sequence,
                    )
                }
            });
            let id = h.subscribe(topic, handler)?;
            // SAFETY: checked out-pointer.
            unsafe { args::write(out, id) };
            Ok(())
        }
    })
}

/// End a subscription. Errors: `INVALID_HANDLE` for an unknown or ended subscription.
///
/// # Safety
/// `host` from `plughost_host_new`.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_event_unsubscribe(host: *const plughost_host, subscription: u64) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        unsafe { live(host)? }.unsubscribe(subscription)
    })
}
