//! A per-thread cache of the host a thread last called, so that a call on it takes no atomic
//! read-modify-write to keep the host alive (on the machines measured, each such instruction costs
//! 10-25 ns, a large part of a no-op execute; see BENCHMARKS.md).
//!
//! The cache holds a strong reference to the host. While a call that took its host from the cache
//! runs (`depth > 0`, nested calls included), the entry is never replaced or dropped, so the
//! reference it lent stays valid. A freed host therefore stays in memory, stopped, until each thread
//! that cached it calls plughost again with another handle, or exits; it does no work meanwhile.

use crate::host::Host;
use std::cell::{Cell, RefCell};
use std::sync::Arc;

struct Cache {
    /// Address of the `plughost_host` handle whose host is kept; 0 for none.
    handle: Cell<usize>,
    /// `Arc::as_ptr` of `kept`, read without touching the `RefCell`.
    host: Cell<*const Host>,
    /// The kept host.
    kept: RefCell<Option<Arc<Host>>>,
    /// Calls on this thread currently using the kept host.
    depth: Cell<usize>,
}

thread_local! {
    static CACHE: Cache = const {
        Cache { handle: Cell::new(0), host: Cell::new(std::ptr::null()), kept: RefCell::new(None), depth: Cell::new(0) }
    };
}

/// A host lent by this thread's cache; valid until dropped. Not `Send` (it holds a raw pointer).
pub(crate) struct Lent {
    host: *const Host,
}

impl std::ops::Deref for Lent {
    type Target = Host;
    fn deref(&self) -> &Host {
        // SAFETY: the cache keeps its `Arc` while `depth > 0`, and this value holds one unit of
        // depth from `lend` until it is dropped.
        unsafe { &*self.host }
    }
}

impl Drop for Lent {
    #[inline]
    fn drop(&mut self) {
        let _ = CACHE.try_with(|c| c.depth.set(c.depth.get() - 1));
    }
}

/// The cached host of `handle`, if this thread holds it.
#[inline]
pub(crate) fn lend(handle: usize) -> Option<Lent> {
    CACHE
        .try_with(|c| {
            (c.handle.get() == handle).then(|| {
                c.depth.set(c.depth.get() + 1);
                Lent { host: c.host.get() }
            })
        })
        .ok()
        .flatten()
}

/// Keep `host` as this thread's cached host of `handle`, unless a lent host is in use.
pub(crate) fn keep(handle: usize, host: &Arc<Host>) {
    let _ = CACHE.try_with(|c| {
        if c.depth.get() == 0 {
            c.handle.set(handle);
            c.host.set(Arc::as_ptr(host));
            // The previous host, if any, may be dropped here: no call of this thread uses it.
            drop(c.kept.replace(Some(host.clone())));
        }
    });
}

/// Drop this thread's cached host of `handle` (it was freed), unless a lent host is in use.
pub(crate) fn forget(handle: usize) {
    let _ = CACHE.try_with(|c| {
        if c.depth.get() == 0 && c.handle.get() == handle {
            c.handle.set(0);
            c.host.set(std::ptr::null());
            drop(c.kept.replace(None));
        }
    });
}
