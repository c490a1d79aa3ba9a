//! The child side: apply the policy given in the environment, try one escape, print what
//! happened (`REPORT <json>`, then `RESULT ok` or `RESULT errno <n>`), exit.

use plughost::sandbox::{self, SandboxPolicy};
use std::ffi::CString;
use std::io;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;

/// Selects the child mode.
pub const CHILD_ENV: &str = "PLUGHOST_SANDBOX_CHILD";
/// The writable root of the policy (none when unset).
pub const ROOT_ENV: &str = "PLUGHOST_SANDBOX_ROOT";
/// What the policy allows: a comma-separated list of `network`, `subprocess`.
pub const ALLOW_ENV: &str = "PLUGHOST_SANDBOX_ALLOW";
/// The path or address the escape aims at.
pub const TARGET_ENV: &str = "PLUGHOST_SANDBOX_TARGET";

fn policy_from_env() -> SandboxPolicy {
    let allow = std::env::var(ALLOW_ENV).unwrap_or_default();
    SandboxPolicy {
        writable_roots: std::env::var_os(ROOT_ENV).map(PathBuf::from).into_iter().collect(),
        allow_network: allow.split(',').any(|a| a == "network"),
        allow_subprocess: allow.split(',').any(|a| a == "subprocess"),
        ..SandboxPolicy::default()
    }
}

/// Runs child `mode` and exits.
pub fn run(mode: &str) -> ! {
    let policy = policy_from_env();
    let target = std::env::var(TARGET_ENV).unwrap_or_default();
    // Set up before the sandbox, as a worker would.
    let tcp_socket = (mode == "connect-tcp" || mode == "bind-tcp").then(|| {
        // SAFETY: plain socket creation.
        unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) }
    });
    if mode == "second-thread" {
        std::thread::spawn(std::thread::park);
    }
    match sandbox::apply(&policy) {
        Ok(report) => println!("REPORT {}", serde_json::to_string(&report).unwrap()),
        Err(e) => {
            println!("APPLY-ERROR {e}");
            std::process::exit(0);
        }
    }
    let result = escape(mode, &target, tcp_socket);
    match result {
        Ok(()) => println!("RESULT ok"),
        Err(e) => println!("RESULT errno {}", e.raw_os_error().unwrap_or(-1)),
    }
    std::process::exit(0);
}

fn check(rc: libc::c_long) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn escape(mode: &str, target: &str, tcp_socket: Option<libc::c_int>) -> io::Result<()> {
    let c_target = CString::new(target).unwrap();
    match mode {
        "write" => std::fs::write(target, b"escaped"),
        "remove" => std::fs::remove_file(target),
        "mkdir" => std::fs::create_dir(target),
        "symlink" => std::os::unix::fs::symlink("/etc/passwd", target),
        // SAFETY: a NUL-terminated path.
        "truncate" => check(unsafe { libc::truncate(c_target.as_ptr(), 0) } as libc::c_long),
        "rename-out" => {
            let inside = PathBuf::from(std::env::var_os(ROOT_ENV).unwrap()).join("moved");
            std::fs::write(&inside, b"inside")?;
            std::fs::rename(&inside, target)
        }
        // SAFETY: plain socket creation; the descriptor is leaked with the process.
        "socket-inet" => check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) } as libc::c_long),
        // SAFETY: as above.
        "socket-udp" => check(unsafe { libc::socket(libc::AF_INET6, libc::SOCK_DGRAM, 0) } as libc::c_long),
        // SAFETY: as above.
        "socket-unix" => check(unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) } as libc::c_long),
        "socketpair" => {
            let mut fds = [0; 2];
            // SAFETY: `fds` has room for the two descriptors.
            check(unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) } as libc::c_long)
        }
        "connect-tcp" | "bind-tcp" => tcp(mode, tcp_socket.unwrap(), target),
        "command" => std::process::Command::new("/bin/true").status().and_then(exit_ok),
        "fork" => {
            // SAFETY: the child only calls _exit.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                // SAFETY: leaving the forked child at once.
                unsafe { libc::_exit(0) };
            }
            check(pid as libc::c_long)?;
            let mut status = 0;
            // SAFETY: waiting for our own child.
            check(unsafe { libc::waitpid(pid, &mut status, 0) } as libc::c_long)
        }
        "exec" => Err(std::process::Command::new("/bin/true").exec()),
        "threads" => threads(),
        "ioctl" => {
            // /dev/null is no terminal: the kernel answers ENOTTY unless the filter answers first.
            let null = std::fs::File::open("/dev/null")?;
            let mut buffer = [0u8; 64];
            let request: libc::Ioctl = target.parse().unwrap();
            // SAFETY: the requests tried read or write at most 64 bytes at the pointer.
            check(unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&null), request, buffer.as_mut_ptr()) }
                as libc::c_long)
        }
        "memory" => memory(),
        // SAFETY: PTRACE_TRACEME takes no pointers.
        "ptrace" => check(unsafe { libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) }),
        #[cfg(target_arch = "x86_64")]
        "int80" => {
            // The i386 entry: getpid is 20 there. The filter's architecture check kills the process.
            let mut rax: u64 = 20;
            // SAFETY: a system call through the 32-bit entry, which changes no memory.
            unsafe { std::arch::asm!("int 0x80", inout("rax") rax, options(nostack)) };
            println!("INT80 returned {rax}");
            Ok(())
        }
        "python" => {
            let status = std::process::Command::new("python3").args(["-c", target]).status()?;
            exit_ok(status)
        }
        other => panic!("unknown child mode {other}"),
    }
}

fn exit_ok(status: std::process::ExitStatus) -> io::Result<()> {
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("{status}")))
    }
}

fn tcp(mode: &str, fd: libc::c_int, target: &str) -> io::Result<()> {
    let SocketAddr::V4(addr) = target.parse::<SocketAddr>().unwrap() else { panic!("IPv4 expected") };
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from(*addr.ip()).to_be() },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let ptr = &sin as *const libc::sockaddr_in as *const libc::sockaddr;
    // SAFETY: `sin` is a valid IPv4 address of `len` bytes; `fd` is our socket.
    let rc = unsafe {
        if mode == "bind-tcp" {
            libc::bind(fd, ptr, len)
        } else {
            libc::connect(fd, ptr, len)
        }
    };
    check(rc as libc::c_long)
}

fn threads() -> io::Result<()> {
    let handles: Vec<_> = (0..4u64).map(|i| std::thread::spawn(move || (0..100_000u64).sum::<u64>() + i)).collect();
    let sums: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let scoped = std::thread::scope(|s| s.spawn(|| 7).join().unwrap());
    assert_eq!(sums, [4_999_950_000, 4_999_950_001, 4_999_950_002, 4_999_950_003]);
    assert_eq!(scoped, 7);
    Ok(())
}

/// A limited address space refuses a large reservation and still serves a small one.
fn memory() -> io::Result<()> {
    sandbox::limit_memory(1 << 30).map_err(|e| io::Error::other(e.to_string()))?;
    let mut big: Vec<u8> = Vec::new();
    if big.try_reserve_exact(2 << 30).is_ok() {
        return Err(io::Error::other("2 GiB reserved under a 1 GiB limit"));
    }
    let mut small: Vec<u8> = Vec::new();
    small.try_reserve_exact(16 << 20).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(())
}
