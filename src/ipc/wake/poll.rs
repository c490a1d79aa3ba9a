//! Platforms without a cross-process wake-up used here (Unix systems other than Linux, others):
//! parking is a short sleep that grows from 50 µs to 1 ms, after which the waiter re-checks its
//! condition; waking needs no call.

use super::Key;
use std::time::Duration;

/// Sleep for the `attempt`-th step (50 µs doubling up to 1 ms), at most `timeout`.
pub(super) fn wait(_key: Key<'_>, _expected: u32, timeout: Duration, attempt: u32) {
    let step = Duration::from_micros(50u64 << attempt.min(5)).min(Duration::from_millis(1));
    std::thread::sleep(step.min(timeout));
}

/// Nothing to do: sleepers re-check on their own.
pub(super) fn wake(_key: Key<'_>, _waiters: u32) {}
