//! A plugin's process: waiting for its end without racing a kill.
//!
//! [`ChildProcess::wait_exit`] blocks until the process ended and returns how; [`ChildProcess::kill`]
//! may be called from any thread at any time and never signals a reused process id: on Unix the
//! waiter first waits *without reaping* (`waitid` with `WNOWAIT`), marks the process as ended under
//! the same lock that `kill` takes, and only then reaps it. Elsewhere the waiter polls.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::ChildProcess;

#[cfg(not(unix))]
mod other;
#[cfg(not(unix))]
pub use other::ChildProcess;

/// How a plugin process ended, in words for logs and health ("exited with status 3", "killed by
/// signal 9").
pub fn describe(status: &std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => "ended".to_owned(),
    }
}
