//! Unix: wait without reaping, then mark and reap under the lock `kill` takes.

use parking_lot::Mutex;
use std::process::{Child, ExitStatus};

/// A started plugin process.
#[derive(Debug)]
pub struct ChildProcess {
    pid: u32,
    /// The child until it is reaped; `None` afterwards.
    child: Mutex<Option<Child>>,
}

impl ChildProcess {
    /// Take over `child`.
    pub fn new(child: Child) -> Self {
        ChildProcess { pid: child.id(), child: Mutex::new(Some(child)) }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Block until the process ended, reap it and return its status (`None` if it was reaped
    /// elsewhere or waiting failed). Call from one thread only.
    pub fn wait_exit(&self) -> Option<ExitStatus> {
        let pid = libc::id_t::try_from(self.pid).ok()?;
        loop {
            // SAFETY: a zeroed siginfo_t is a valid out-buffer; P_PID with WNOWAIT leaves the
            // child unreaped, so its pid cannot be reused before `kill` sees it as ended.
            let rc = unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT)
            };
            if rc == 0 {
                break;
            }
            if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break;
            }
        }
        let mut child = self.child.lock();
        child.take()?.wait().ok()
    }

    /// Kill the process (SIGKILL) unless it has been reaped already.
    pub fn kill(&self) {
        if let Some(child) = self.child.lock().as_mut() {
            let _ = child.kill();
        }
    }
}
