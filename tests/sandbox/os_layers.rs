//! The operating-system layers, tried from child processes: writes, sockets, TCP, processes,
//! cross-process access, the architecture check, and that threads keep working.

use crate::child::{ALLOW_ENV, CHILD_ENV, ROOT_ENV, TARGET_ENV};
use crate::Test;
use serde_json::Value;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

pub const TESTS: &[Test] = &[
    ("report_names_every_layer", report_names_every_layer),
    ("write_outside_the_roots_is_denied", write_outside_the_roots_is_denied),
    ("write_inside_a_root_works", write_inside_a_root_works),
    ("changes_outside_the_roots_are_denied", changes_outside_the_roots_are_denied),
    ("dev_null_stays_writable", dev_null_stays_writable),
    ("sockets_are_denied_without_network", sockets_are_denied_without_network),
    ("socketpair_stays_allowed", socketpair_stays_allowed),
    ("tcp_on_an_earlier_socket_is_denied", tcp_on_an_earlier_socket_is_denied),
    ("processes_are_denied_without_subprocess", processes_are_denied_without_subprocess),
    ("threads_still_work", threads_still_work),
    ("ptrace_is_denied", ptrace_is_denied),
    ("typing_into_a_terminal_is_denied", typing_into_a_terminal_is_denied),
    ("memory_limit_refuses_large_allocations", memory_limit_refuses_large_allocations),
    #[cfg(target_arch = "x86_64")]
    ("the_i386_entry_kills_the_process", the_i386_entry_kills_the_process),
    ("allowed_network_and_processes_work", allowed_network_and_processes_work),
    ("a_second_thread_is_refused", a_second_thread_is_refused),
    ("ctypes_in_python_meets_the_kernel_layers", ctypes_in_python_meets_the_kernel_layers),
];

/// A scratch directory with a writable root inside and room outside it.
struct Scratch {
    _dir: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
}

fn scratch() -> Scratch {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    Scratch { _dir: dir, root, outside }
}

/// What a child printed and how it ended.
struct Outcome {
    stdout: String,
    status: ExitStatus,
}

impl Outcome {
    fn line(&self, key: &str) -> Option<&str> {
        self.stdout.lines().find_map(|l| l.strip_prefix(key).and_then(|rest| rest.strip_prefix(' ')))
    }

    fn report(&self) -> Value {
        let json = self.line("REPORT").unwrap_or_else(|| panic!("no report: {}", self.stdout));
        serde_json::from_str(json).unwrap()
    }

    /// The child's result: `Ok(())` or the errno it saw.
    fn result(&self) -> Result<(), i32> {
        let result = self.line("RESULT").unwrap_or_else(|| panic!("no result ({}): {}", self.status, self.stdout));
        match result.strip_prefix("errno ") {
            None => {
                assert_eq!(result, "ok");
                Ok(())
            }
            Some(n) => Err(n.parse().unwrap()),
        }
    }
}

fn child(mode: &str, root: Option<&Path>, allow: &str, target: &str) -> Outcome {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env(CHILD_ENV, mode).env(ALLOW_ENV, allow).env(TARGET_ENV, target).env_remove(ROOT_ENV);
    if let Some(root) = root {
        cmd.env(ROOT_ENV, root);
    }
    let out = cmd.output().unwrap();
    let outcome = Outcome { stdout: String::from_utf8_lossy(&out.stdout).into_owned(), status: out.status };
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    outcome
}

fn state(report: &Value, layer: &str) -> String {
    report[layer]["state"].as_str().unwrap_or_else(|| panic!("{layer} missing in {report}")).to_string()
}

/// Whether the kernel has Landlock; when not, checks that the report says the layer is missing
/// rather than claiming it, and says the test is skipped.
fn landlock_present(report: &Value, what: &str) -> bool {
    if report["landlock_abi"].is_null() {
        assert_eq!(state(report, "landlock_filesystem"), "unavailable", "{report}");
        eprintln!("skipped ({what}): the kernel has no Landlock: {}", report["landlock_filesystem"]["reason"]);
        return false;
    }
    assert_eq!(state(report, "landlock_filesystem"), "enforced", "{report}");
    true
}

/// Asserts that the escape was refused with one of `errnos`, unless Landlock is missing.
fn refused_by_landlock(outcome: &Outcome, what: &str, errnos: &[i32]) {
    if landlock_present(&outcome.report(), what) {
        let result = outcome.result();
        assert!(matches!(result, Err(e) if errnos.contains(&e)), "{what}: {result:?}, expected one of {errnos:?}");
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn report_names_every_layer() {
    let s = scratch();
    let outcome = child("threads", Some(&s.root), "", "");
    let report = outcome.report();
    let abi = report["landlock_abi"].as_u64();
    if let Some(abi) = abi {
        assert!(abi >= 1, "{report}");
        let expect = |min: u64| if abi >= min { "enforced" } else { "unavailable" };
        assert_eq!(state(&report, "landlock_network"), expect(4), "{report}");
        assert_eq!(state(&report, "landlock_scopes"), expect(6), "{report}");
    }
    assert_eq!(state(&report, "seccomp"), "enforced", "{report}");
    let denies = report["seccomp_denies"].as_array().unwrap();
    assert!(denies.iter().any(|d| d.as_str().unwrap().starts_with("execve")), "{report}");
    assert!(denies.iter().any(|d| d.as_str().unwrap().starts_with("socket()")), "{report}");
}

fn write_outside_the_roots_is_denied() {
    let s = scratch();
    let target = s.outside.join("escape.txt");
    refused_by_landlock(&child("write", Some(&s.root), "", path(&target)), "write outside", &[libc::EACCES]);
    assert!(!target.exists());
    // No root at all: nothing is writable, not even the temporary directory.
    let target = s.root.join("escape.txt");
    refused_by_landlock(&child("write", None, "", path(&target)), "write without roots", &[libc::EACCES]);
    assert!(!target.exists());
}

fn write_inside_a_root_works() {
    let s = scratch();
    let target = s.root.join("sub-dir-less.txt");
    assert_eq!(child("write", Some(&s.root), "", path(&target)).result(), Ok(()));
    assert_eq!(std::fs::read(&target).unwrap(), b"escaped");
    let dir = s.root.join("made");
    assert_eq!(child("mkdir", Some(&s.root), "", path(&dir)).result(), Ok(()));
    assert!(dir.is_dir());
    assert_eq!(child("remove", Some(&s.root), "", path(&target)).result(), Ok(()));
    assert!(!target.exists());
}

fn changes_outside_the_roots_are_denied() {
    let s = scratch();
    let victim = s.outside.join("victim.txt");
    std::fs::write(&victim, b"keep me").unwrap();
    let root = Some(s.root.as_path());
    refused_by_landlock(&child("remove", root, "", path(&victim)), "remove outside", &[libc::EACCES]);
    refused_by_landlock(&child("truncate", root, "", path(&victim)), "truncate outside", &[libc::EACCES]);
    let moved = s.outside.join("moved-out");
    refused_by_landlock(&child("rename-out", root, "", path(&moved)), "rename out", &[libc::EACCES, libc::EXDEV]);
    let dir = s.outside.join("made");
    refused_by_landlock(&child("mkdir", root, "", path(&dir)), "mkdir outside", &[libc::EACCES]);
    let link = s.outside.join("link");
    refused_by_landlock(&child("symlink", root, "", path(&link)), "symlink outside", &[libc::EACCES]);
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
    assert!(!moved.exists() && !dir.exists() && !link.exists());
}

fn dev_null_stays_writable() {
    let s = scratch();
    assert_eq!(child("write", Some(&s.root), "", "/dev/null").result(), Ok(()));
}

fn sockets_are_denied_without_network() {
    for mode in ["socket-inet", "socket-udp", "socket-unix"] {
        let outcome = child(mode, None, "subprocess", "");
        assert_eq!(outcome.result(), Err(libc::EACCES), "{mode}");
    }
}

fn socketpair_stays_allowed() {
    assert_eq!(child("socketpair", None, "", "").result(), Ok(()));
}

fn tcp_on_an_earlier_socket_is_denied() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    for mode in ["connect-tcp", "bind-tcp"] {
        let outcome = child(mode, None, "", if mode == "bind-tcp" { "127.0.0.1:0" } else { &addr });
        let report = outcome.report();
        if report["landlock_abi"].as_u64().is_some_and(|abi| abi >= 4) {
            assert_eq!(state(&report, "landlock_network"), "enforced");
            assert_eq!(outcome.result(), Err(libc::EACCES), "{mode}");
        } else {
            assert_eq!(state(&report, "landlock_network"), "unavailable", "{report}");
            eprintln!("skipped ({mode}): Landlock below ABI 4 has no TCP rules");
        }
    }
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "a connection got through");
}

fn processes_are_denied_without_subprocess() {
    for mode in ["command", "fork", "exec"] {
        let outcome = child(mode, None, "network", "");
        assert_eq!(outcome.result(), Err(libc::EPERM), "{mode}: {}", outcome.stdout);
    }
}

fn threads_still_work() {
    let outcome = child("threads", None, "", "");
    assert!(outcome.status.success(), "{}: {}", outcome.status, outcome.stdout);
    assert_eq!(outcome.result(), Ok(()));
}

fn ptrace_is_denied() {
    assert_eq!(child("ptrace", None, "network,subprocess", "").result(), Err(libc::EPERM));
}

fn typing_into_a_terminal_is_denied() {
    for (request, errno) in [
        (libc::TIOCSTI, libc::EPERM),
        (libc::TIOCLINUX, libc::EPERM),
        // Other ioctls still reach the kernel, which says /dev/null is no terminal.
        (libc::TIOCGWINSZ, libc::ENOTTY),
    ] {
        let outcome = child("ioctl", None, "network,subprocess", &request.to_string());
        assert_eq!(outcome.result(), Err(errno), "ioctl {request:#x}");
    }
}

fn memory_limit_refuses_large_allocations() {
    let outcome = child("memory", None, "", "");
    assert_eq!(outcome.result(), Ok(()), "{}", outcome.stdout);
}

#[cfg(target_arch = "x86_64")]
fn the_i386_entry_kills_the_process() {
    let outcome = child("int80", None, "network,subprocess", "");
    assert_eq!(outcome.status.signal(), Some(libc::SIGSYS), "{}: {}", outcome.status, outcome.stdout);
    assert!(outcome.line("INT80").is_none());
}

fn allowed_network_and_processes_work() {
    for mode in ["socket-inet", "socket-unix", "command", "fork"] {
        let outcome = child(mode, None, "network,subprocess", "");
        let report = outcome.report();
        assert_eq!(
            state(&report, "landlock_network"),
            if report["landlock_abi"].is_null() { "unavailable" } else { "not_requested" }
        );
        assert_eq!(outcome.result(), Ok(()), "{mode}");
    }
}

fn a_second_thread_is_refused() {
    let outcome = child("second-thread", None, "", "");
    let error = outcome.line("APPLY-ERROR").unwrap_or_else(|| panic!("applied: {}", outcome.stdout));
    assert!(error.contains("2 threads"), "{error}");
}

/// ctypes reaches libc directly, past any audit hook; the kernel layers still refuse.
fn ctypes_in_python_meets_the_kernel_layers() {
    if !crate::audit_hook::python_present() {
        return;
    }
    let s = scratch();
    let victim = s.outside.join("ctypes.txt");
    let script = format!(
        "import ctypes, os\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         fd = libc.open({victim:?}.encode(), os.O_WRONLY | os.O_CREAT, 0o644)\n\
         print('CTYPES-OPEN', fd, ctypes.get_errno(), flush=True)\n\
         fd = libc.socket(2, 1, 0)\n\
         print('CTYPES-SOCKET', fd, ctypes.get_errno(), flush=True)\n",
        victim = path(&victim)
    );
    // Processes are allowed so that python3 can start; Landlock and seccomp pass through exec.
    let outcome = child("python", Some(&s.root), "subprocess", &script);
    assert_eq!(outcome.result(), Ok(()), "{}", outcome.stdout);
    assert_eq!(outcome.line("CTYPES-SOCKET"), Some(format!("-1 {}", libc::EACCES).as_str()));
    if landlock_present(&outcome.report(), "ctypes write") {
        assert_eq!(outcome.line("CTYPES-OPEN"), Some(format!("-1 {}", libc::EACCES).as_str()));
        assert!(!victim.exists());
    }
}
