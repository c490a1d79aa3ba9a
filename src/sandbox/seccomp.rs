//! The seccomp filter: a hand-written classic-BPF program, installed with
//! `SECCOMP_FILTER_FLAG_TSYNC` so every thread of the process gets it.
//!
//! It first checks the architecture in `seccomp_data` (a mismatch, e.g. the i386 `int 0x80` entry
//! on x86_64, kills the process) and refuses x32 system-call numbers, then denies:
//! - always: io_uring (its operations would bypass the socket rules), ptrace, process_vm_readv and
//!   process_vm_writev, pidfd_getfd, prlimit64 on another process, and the TIOCSTI and TIOCLINUX
//!   ioctls (which type into a terminal the worker may share with the host);
//! - without network: socket() of every family (Unix sockets included: pathname sockets reach
//!   daemons such as D-Bus or Docker, which Landlock does not govern), socketpair() of other than
//!   AF_UNIX (socketpair(AF_UNIX) stays: it reaches nothing outside, and asyncio needs it);
//! - without subprocesses: execve, execveat, fork, vfork, clone without CLONE_THREAD; clone3 answers
//!   ENOSYS so that glibc's pthread_create falls back to clone, where the flags can be checked;
//! - with a Landlock ABI below 3 (which does not govern truncation): truncate(2).
//!
//! Everything else is allowed. Only x86_64 and aarch64 are supported; elsewhere the layer is
//! reported unavailable.

use super::{LayerState, SandboxError, SandboxPolicy};
use std::io;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: Option<u32> = Some(0xC000_003E);
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: Option<u32> = Some(0xC000_00B7);
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const AUDIT_ARCH: Option<u32> = None;

/// Offsets in `struct seccomp_data`: the call number, the architecture, the low words of arguments
/// 0 and 1 (both supported architectures are little-endian).
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const OFFSET_ARG0_LOW: u32 = 16;
const OFFSET_ARG1_LOW: u32 = 24;
/// x32 calls are x86_64 numbers with this bit set.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// How a rule treats its system call.
enum Check {
    /// Always deny.
    Always,
    /// Allow when the low word of argument 0 equals the value, else deny.
    Arg0Equals(u32),
    /// Allow when the low word of argument 0 has any of these bits, else deny.
    Arg0HasBits(u32),
    /// Deny when the low word of argument 1 equals the value, else allow.
    Arg1Is(u32),
}

/// One rule: a system call, a check, and the errno returned when the check denies.
struct Rule {
    nr: libc::c_long,
    check: Check,
    errno: i32,
}

fn rule(nr: libc::c_long, check: Check, errno: i32) -> Rule {
    Rule { nr, check, errno }
}

/// Installs the filter for `policy`; returns the layer's state and what it denies.
pub(super) fn install(
    policy: &SandboxPolicy,
    landlock_abi: Option<u32>,
) -> Result<(LayerState, Vec<&'static str>), SandboxError> {
    let Some(arch) = AUDIT_ARCH else {
        return Ok((LayerState::Unavailable("seccomp filter written for x86_64 and aarch64 only".into()), Vec::new()));
    };
    let (rules, denies) = rules(policy, landlock_abi);
    let program = program(arch, &rules);
    let fprog = libc::sock_fprog { len: program.len() as u16, filter: program.as_ptr() as *mut libc::sock_filter };
    // SAFETY: `fprog` points at `program`, which outlives the call; the kernel copies it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &fprog as *const libc::sock_fprog,
        )
    };
    match rc {
        0 => Ok((LayerState::Enforced, denies)),
        -1 => {
            let error = io::Error::last_os_error();
            match error.raw_os_error() {
                Some(libc::ENOSYS) | Some(libc::EINVAL) => {
                    Ok((LayerState::Unavailable(format!("the kernel refuses seccomp filters: {error}")), Vec::new()))
                }
                _ => Err(SandboxError::Syscall { step: "seccomp(SECCOMP_SET_MODE_FILTER)", error }),
            }
        }
        thread => Err(SandboxError::Syscall {
            step: "seccomp thread synchronisation",
            error: io::Error::other(format!("thread {thread} could not take the filter")),
        }),
    }
}

/// The rules for `policy`, and a phrase for each group for the report.
fn rules(policy: &SandboxPolicy, landlock_abi: Option<u32>) -> (Vec<Rule>, Vec<&'static str>) {
    let mut rules = vec![
        rule(libc::SYS_io_uring_setup, Check::Always, libc::ENOSYS),
        rule(libc::SYS_io_uring_enter, Check::Always, libc::ENOSYS),
        rule(libc::SYS_io_uring_register, Check::Always, libc::ENOSYS),
        rule(libc::SYS_ptrace, Check::Always, libc::EPERM),
        rule(libc::SYS_process_vm_readv, Check::Always, libc::EPERM),
        rule(libc::SYS_process_vm_writev, Check::Always, libc::EPERM),
        rule(libc::SYS_pidfd_getfd, Check::Always, libc::EPERM),
        rule(libc::SYS_prlimit64, Check::Arg0Equals(0), libc::EPERM),
        rule(libc::SYS_ioctl, Check::Arg1Is(libc::TIOCSTI as u32), libc::EPERM),
        rule(libc::SYS_ioctl, Check::Arg1Is(libc::TIOCLINUX as u32), libc::EPERM),
    ];
    let mut denies = vec![
        "io_uring",
        "ptrace and process_vm_*",
        "pidfd_getfd",
        "prlimit64 on other processes",
        "ioctl TIOCSTI and TIOCLINUX (typing into a terminal)",
    ];
    if !policy.allow_network {
        rules.push(rule(libc::SYS_socket, Check::Always, libc::EACCES));
        rules.push(rule(libc::SYS_socketpair, Check::Arg0Equals(libc::AF_UNIX as u32), libc::EACCES));
        denies.push("socket() of every family, socketpair() but AF_UNIX");
    }
    if !policy.allow_subprocess {
        rules.push(rule(libc::SYS_execve, Check::Always, libc::EPERM));
        rules.push(rule(libc::SYS_execveat, Check::Always, libc::EPERM));
        #[cfg(target_arch = "x86_64")]
        {
            rules.push(rule(libc::SYS_fork, Check::Always, libc::EPERM));
            rules.push(rule(libc::SYS_vfork, Check::Always, libc::EPERM));
        }
        rules.push(rule(libc::SYS_clone, Check::Arg0HasBits(libc::CLONE_THREAD as u32), libc::EPERM));
        rules.push(rule(libc::SYS_clone3, Check::Always, libc::ENOSYS));
        denies.push("execve, execveat, fork, vfork, clone without CLONE_THREAD, clone3 (ENOSYS)");
    }
    if landlock_abi.is_some_and(|abi| abi < 3) {
        rules.push(rule(libc::SYS_truncate, Check::Always, libc::EACCES));
        denies.push("truncate(2) (Landlock below ABI 3 does not govern it)");
    }
    (rules, denies)
}

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt: 0, jf: 0, k }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt, jf, k }
}

fn ret(value: u32) -> libc::sock_filter {
    stmt(libc::BPF_RET | libc::BPF_K, value)
}

fn ret_errno(errno: i32) -> libc::sock_filter {
    ret(libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA))
}

fn load(offset: u32) -> libc::sock_filter {
    stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, offset)
}

/// The BPF program: the architecture check, then each rule in turn with the call number in the
/// accumulator, then allow.
fn program(arch: u32, rules: &[Rule]) -> Vec<libc::sock_filter> {
    let jeq = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
    let jset = libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K;
    let mut p = vec![load(OFFSET_ARCH), jump(jeq, arch, 1, 0), ret(libc::SECCOMP_RET_KILL_PROCESS), load(OFFSET_NR)];
    #[cfg(target_arch = "x86_64")]
    {
        p.push(jump(libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K, X32_SYSCALL_BIT, 0, 1));
        p.push(ret_errno(libc::ENOSYS));
    }
    for r in rules {
        let nr = r.nr as u32;
        match r.check {
            Check::Always => {
                p.push(jump(jeq, nr, 0, 1));
                p.push(ret_errno(r.errno));
            }
            Check::Arg0Equals(value) | Check::Arg0HasBits(value) => {
                let test = if matches!(r.check, Check::Arg0HasBits(_)) { jset } else { jeq };
                // Another call skips the four instructions of this rule with its number still loaded.
                p.push(jump(jeq, nr, 0, 4));
                p.push(load(OFFSET_ARG0_LOW));
                p.push(jump(test, value, 0, 1));
                p.push(ret(libc::SECCOMP_RET_ALLOW));
                p.push(ret_errno(r.errno));
            }
            Check::Arg1Is(value) => {
                // No match reloads the number and goes on with the next rule (which may be the
                // same call with another value).
                p.push(jump(jeq, nr, 0, 4));
                p.push(load(OFFSET_ARG1_LOW));
                p.push(jump(jeq, value, 0, 1));
                p.push(ret_errno(r.errno));
                p.push(load(OFFSET_NR));
            }
        }
    }
    p.push(ret(libc::SECCOMP_RET_ALLOW));
    p
}
