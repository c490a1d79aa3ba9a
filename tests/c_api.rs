//! The C ABI as C sees it: compiles and runs `tests/c/test_c_api.c` (every function of
//! `include/plughost.h`, every status a C caller can provoke) under AddressSanitizer,
//! LeakSanitizer and UBSan; checks the layout of the module ABI tables in
//! `include/plughost_module.h` against `src/ffi/module_abi.rs`; and builds and runs the C host
//! example `examples/c/host.c`. The C test program is also peer A of IPC sessions whose peer B is
//! the C example `examples/c/ipc_peer.c`. The C plugin example `examples/c/plugin_c.c` runs under
//! the fake plugin host of `support/fake_host.rs`.
//!
//! Linux only: the C test relies on glibc's behaviour for pinned libraries, on POSIX threads and
//! file calls, and on ELF linking with an rpath.
#![cfg(target_os = "linux")]

mod support;

use plughost::ffi::module_abi::{HostApiV1, ModuleTableV1};
use plughost::ipc::session::IpcError;
use plughost::status::*;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::fake_host::{remote_failure, Bus, FakeHost};
use support::{fixtures, repo, Sandbox};

/// How long one C program may run before it is killed and the test fails (a deadlock, say).
const RUN_LIMIT: Duration = Duration::from_secs(300);

/// The folder holding the plughost cdylib (`libplughost.so`) of this very build.
///
/// `cargo test` builds the library target, with all its crate types (cdylib, staticlib, rlib),
/// as a dependency of this test, but only `cargo build` copies ("uplifts") the artifacts to
/// `target/debug`: for a test run the fresh cdylib is in `target/<profile>/deps`, next to this
/// test's own executable (checked: after `cargo test --no-run` in an empty target folder,
/// `target/debug/libplughost.so` does not exist and `target/debug/deps/libplughost.so` does).
/// Taking the folder of the running executable follows `--release`, `--target`, `--target-dir`
/// and `CARGO_TARGET_DIR`, and needs no second cargo run, which would either wait for the lock
/// the outer cargo holds on the target folder or build a second copy of the library elsewhere.
fn cdylib_dir() -> PathBuf {
    let name = format!("{}plughost{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let exe = std::env::current_exe().expect("the test knows its executable");
    let deps = exe.parent().expect("the test executable is in a folder").to_path_buf();
    // `target/<profile>/deps` first; `target/<profile>` holds a copy after a `cargo build`.
    let candidates = [deps.clone(), deps.parent().map(Path::to_path_buf).unwrap_or_default()];
    candidates.iter().find(|dir| dir.join(&name).is_file()).cloned().unwrap_or_else(|| {
        panic!("{name} is in neither {} nor its parent: is crate-type cdylib still set in Cargo.toml?", deps.display())
    })
}

/// Run `cmd`, killing it after [`RUN_LIMIT`]; returns (success, stdout, stderr).
fn run_limited(cmd: &mut Command) -> (bool, String, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break Some(status);
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (out, mut err) = (stdout.join().unwrap(), stderr.join().unwrap());
    if status.is_none() {
        err.push_str(&format!("\n[killed after {RUN_LIMIT:?}]\n"));
    }
    (status.is_some_and(|s| s.success()), out, err)
}

/// Compile C `sources` into `output` with the repository's `include` folder and `flags`;
/// with `link_plughost`, link the cdylib and record its folder as the rpath.
fn compile(sources: &[PathBuf], output: &Path, flags: &[&str], link_plughost: bool) {
    let mut cmd = Command::new("cc");
    cmd.args(["-std=c11", "-Wall", "-Wextra", "-Werror"]).args(flags).arg("-I").arg(repo().join("include"));
    cmd.args(sources).arg("-o").arg(output);
    if link_plughost {
        let lib = cdylib_dir();
        cmd.arg("-L").arg(&lib).arg("-lplughost").arg(format!("-Wl,-rpath,{}", lib.display())).arg("-pthread");
    }
    let (ok, out, err) = run_limited(&mut cmd);
    assert!(ok, "{cmd:?} failed:\n{out}{err}");
}

/// How the C test program is checked for memory errors.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Checker {
    /// `-fsanitize=address,undefined`; `leaks`: with LeakSanitizer (it needs ptrace, which some
    /// containers forbid).
    Sanitizers { leaks: bool },
    /// A plain `-g` build under `valgrind --error-exitcode=1`.
    Valgrind,
    /// Neither is available: a plain build, run as is.
    None,
}

/// Sanitizers if `cc` can build and run a program with them (it needs libasan and libubsan);
/// else valgrind if installed. `PLUGHOST_C_TESTS_VALGRIND=1` forces the valgrind path.
fn checker(work: &Path) -> Checker {
    let has_valgrind = || Command::new("valgrind").arg("--version").output().is_ok_and(|o| o.status.success());
    if std::env::var_os("PLUGHOST_C_TESTS_VALGRIND").is_some_and(|v| v == "1") {
        assert!(has_valgrind(), "PLUGHOST_C_TESTS_VALGRIND=1 but valgrind is not installed");
        return Checker::Valgrind;
    }
    let probe = work.join("asan_probe.c");
    let exe = work.join("asan_probe");
    std::fs::write(&probe, "int main(void) { return 0; }\n").unwrap();
    let built = Command::new("cc")
        .args(["-fsanitize=address,undefined", "-o"])
        .arg(&exe)
        .arg(&probe)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let runs = |options: &str| {
        built
            && Command::new(&exe).env("ASAN_OPTIONS", options).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    };
    if runs("detect_leaks=1") {
        Checker::Sanitizers { leaks: true }
    } else if runs("detect_leaks=0") {
        Checker::Sanitizers { leaks: false }
    } else if has_valgrind() {
        Checker::Valgrind
    } else {
        Checker::None
    }
}

#[test]
fn c_test_program_passes_under_sanitizers() {
    let f = fixtures();
    let sb = Sandbox::new();
    let work = sb.dir.path().join("build");
    std::fs::create_dir(&work).unwrap();
    let checker = checker(&work);
    let exe = work.join("test_c_api");
    let flags: &[&str] = match checker {
        Checker::Sanitizers { .. } => &["-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer"],
        Checker::Valgrind | Checker::None => &["-g"],
    };
    compile(&[repo().join("tests/c/test_c_api.c")], &exe, flags, true);
    // The C peer B of the IPC session tests, built plainly: it runs as a child process.
    let ipc_peer = work.join("ipc_peer");
    compile(&[repo().join("examples/c/ipc_peer.c")], &ipc_peer, &["-g"], true);
    // The C plugin of the host-side plugin tests.
    let plugin_c = work.join("plugin_c");
    compile(&[repo().join("examples/c/plugin_c.c")], &plugin_c, &["-g"], true);

    let modules: [(&str, &Path, &str); 11] = [
        ("COUNTER", &f.counter, "counter"),
        ("COUNTER_V2", &f.counter_v2, "counter_v2"),
        ("GREETER", &f.greeter, "greeter"),
        ("TLS_PINNED", &f.tls_pinned, "tls_pinned"),
        ("NO_ENTRY", &f.no_entry, "no_entry"),
        ("ABI_MISMATCH", &f.abi_mismatch, "abi_mismatch"),
        ("SHORT_TABLE", &f.short_table, "short_table"),
        ("NULL_ENTRY", &f.null_entry, "null_entry"),
        ("MISSING_EXECUTE", &f.missing_execute, "missing_execute"),
        ("INIT_FAILS", &f.init_fails, "init_fails"),
        ("RESTORE_FAILS", &f.restore_fails, "restore_fails"),
    ];
    let mut cmd = match checker {
        Checker::Valgrind => {
            let mut c = Command::new("valgrind");
            c.args(["--error-exitcode=1", "--quiet"]).arg(&exe);
            c
        }
        Checker::Sanitizers { .. } | Checker::None => Command::new(&exe),
    };
    cmd.env("PLUGHOST_TEST_DIR", sb.dir.path())
        .env("PLUGHOST_TEST_IPC_PEER", &ipc_peer)
        .env("PLUGHOST_TEST_PLUGIN_C", &plugin_c)
        .env("PLUGHOST_TEST_PYTHON_WORKER", support::python_worker());
    for (var, module, name) in modules {
        cmd.env(format!("PLUGHOST_TEST_{var}"), sb.install(module, name));
    }
    // With RUST_BACKTRACE set (cargo users often have it), the counter module's deliberate panic
    // makes the module's own std capture and symbolise a backtrace: that registers thread-local
    // destructors on the calling thread, which pins the module's library (the test's shadow
    // folder counts then fail), and leaves megabytes of symbolisation cache that LeakSanitizer
    // reports once the library is gone. Neither is what this program tests.
    cmd.env("RUST_BACKTRACE", "0");
    // No LeakSanitizer suppression file: the only leaks are the 16-byte tombstones plughost keeps
    // for freed hosts by design, and the program keeps those reachable (see `free_host` there).
    // A suppression could not be narrow: the Rust frames have no frame pointers, so the fast
    // unwinder attributes the allocation to `alloc::alloc` and the C caller, and even with full
    // stacks the only telling frame, `plughost_host_new`, is in the stack of every allocation a
    // host makes at creation, so it would also hide a leaked host.
    let leaks = checker == Checker::Sanitizers { leaks: true };
    cmd.env("ASAN_OPTIONS", format!("detect_leaks={}:strict_string_checks=1", u8::from(leaks)))
        .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1");

    let (ok, out, err) = run_limited(&mut cmd);
    println!("checked with {checker:?}\n--- stdout\n{out}--- stderr\n{err}");
    assert!(ok, "the C test program failed (checked with {checker:?}):\n{out}\n{err}");
    let last = out.lines().last().unwrap_or_default();
    let passed = last.strip_suffix(" passed, 0 failed").and_then(|n| n.parse::<u32>().ok());
    assert!(passed.is_some_and(|n| n > 500), "unexpected closing line {last:?}");
}

/// `offset_of!` and the size of one field, as the C probe prints them.
macro_rules! field {
    ($lines:ident, $c_name:literal, $ty:ty, $field:ident) => {{
        fn size_of_field<T, F>(_: fn(&T) -> &F) -> usize {
            std::mem::size_of::<F>()
        }
        $lines.insert(
            format!("{}.{}", $c_name, stringify!($field)),
            format!("offset {} size {}", std::mem::offset_of!($ty, $field), size_of_field(|t: &$ty| &t.$field)),
        );
    }};
}

#[test]
fn module_abi_layout_matches_the_c_header() {
    let work = tempfile::tempdir().unwrap();
    let exe = work.path().join("module_layout");
    compile(&[repo().join("tests/c/module_layout.c")], &exe, &[], false);
    let (ok, out, err) = run_limited(&mut Command::new(&exe));
    assert!(ok, "module_layout failed: {err}");
    let c: BTreeMap<String, String> = out
        .lines()
        .map(|line| {
            let (name, rest) = line.split_once(' ').unwrap_or_else(|| panic!("bad line {line:?}"));
            (name.to_owned(), rest.to_owned())
        })
        .collect();

    let mut rust = BTreeMap::new();
    let mut table = |c_name: &str, size: usize, align: usize| {
        rust.insert(c_name.to_owned(), format!("size {size} align {align}"));
    };
    table("plughost_module_v1", std::mem::size_of::<ModuleTableV1>(), std::mem::align_of::<ModuleTableV1>());
    table("plughost_host_api_v1", std::mem::size_of::<HostApiV1>(), std::mem::align_of::<HostApiV1>());
    field!(rust, "plughost_module_v1", ModuleTableV1, abi_version);
    field!(rust, "plughost_module_v1", ModuleTableV1, struct_size);
    field!(rust, "plughost_module_v1", ModuleTableV1, name);
    field!(rust, "plughost_module_v1", ModuleTableV1, version);
    field!(rust, "plughost_module_v1", ModuleTableV1, init);
    field!(rust, "plughost_module_v1", ModuleTableV1, execute);
    field!(rust, "plughost_module_v1", ModuleTableV1, shutdown);
    field!(rust, "plughost_module_v1", ModuleTableV1, save_state);
    field!(rust, "plughost_module_v1", ModuleTableV1, restore_state);
    field!(rust, "plughost_host_api_v1", HostApiV1, abi_version);
    field!(rust, "plughost_host_api_v1", HostApiV1, struct_size);
    field!(rust, "plughost_host_api_v1", HostApiV1, ctx);
    field!(rust, "plughost_host_api_v1", HostApiV1, log);
    field!(rust, "plughost_host_api_v1", HostApiV1, storage_get);
    field!(rust, "plughost_host_api_v1", HostApiV1, storage_set);
    field!(rust, "plughost_host_api_v1", HostApiV1, call_service);
    field!(rust, "plughost_host_api_v1", HostApiV1, publish_event);
    field!(rust, "plughost_host_api_v1", HostApiV1, output_write);
    field!(rust, "plughost_host_api_v1", HostApiV1, output_set_error);

    println!("{out}");
    assert_eq!(c, rust, "include/plughost_module.h and src/ffi/module_abi.rs disagree");
    // No field is missing from either list: the fields end exactly where the table ends (neither
    // table has tail padding).
    for table in ["plughost_module_v1", "plughost_host_api_v1"] {
        let number = |text: &str, key: &str| -> usize {
            let mut words = text.split(' ');
            while let Some(word) = words.next() {
                if word == key {
                    return words.next().and_then(|n| n.parse().ok()).expect("a number after the key");
                }
            }
            panic!("no {key} in {text:?}")
        };
        let end = c
            .iter()
            .filter(|(name, _)| name.starts_with(&format!("{table}.")))
            .map(|(_, v)| number(v, "offset") + number(v, "size"))
            .max()
            .unwrap();
        assert_eq!(end, number(&c[table], "size"), "{table}: a field is missing from the probe");
    }
}

#[test]
fn c_host_example_builds_and_runs() {
    let f = fixtures();
    let sb = Sandbox::new();
    let exe = sb.dir.path().join("host");
    compile(&[repo().join("examples/c/host.c")], &exe, &["-g"], true);
    let greeter = sb.install(&f.greeter, "greeter");
    let greeter_v2 = sb.install(&f.greeter_v2, "greeter_v2");
    let (ok, out, err) = run_limited(
        Command::new(&exe)
            .arg(sb.root())
            .arg(&greeter)
            .arg(&greeter_v2)
            // The example uses the default shadow folder under the temporary folder: keep it in
            // the sandbox.
            .env("TMPDIR", sb.dir.path()),
    );
    println!("--- stdout\n{out}--- stderr\n{err}");
    assert!(ok, "examples/c/host.c failed:\n{out}\n{err}");
    let hello = out.find("Hello, ").expect("the greeting of version 1");
    let good_day = out.find("Good day, ").expect("the greeting of version 2");
    assert!(hello < good_day, "version 1 greets before the reload, version 2 after");
    assert!(out.contains("\"status\""), "the health JSON is printed");
    assert!(err.contains("module loaded"), "the log callback prints to stderr");
}

#[test]
fn c_plugin_example_runs_under_a_host() {
    let sb = Sandbox::new();
    let exe = sb.dir.path().join("plugin_c");
    compile(&[repo().join("examples/c/plugin_c.c")], &exe, &["-g"], true);
    let bus = Arc::new(Bus::default());
    let mut host = FakeHost::start(&bus, &exe, &[], "cplug");
    host.initialize(r#"{"Mode": "c"}"#).unwrap();
    assert_eq!(host.command("config", "").unwrap(), r#"{"Mode": "c"}"#);
    assert_eq!(host.command("echo", "ping").unwrap(), "ping");
    assert_eq!(host.command("upper", "shout").unwrap(), "SHOUT");
    assert_eq!(host.command("name", "").unwrap(), "cplug");
    assert_eq!(host.command("pid", "").unwrap(), host.child.id().to_string());
    // Host services called while the host's request runs.
    host.command("store", "colour=blue").unwrap();
    assert_eq!(bus.storage.lock().unwrap()["colour"], b"blue");
    assert_eq!(host.command("get", "colour").unwrap(), "blue");
    let (status, message) = remote_failure(host.command("get", "size"));
    assert_eq!(status, PLUGHOST_ERR_KEY_NOT_FOUND);
    assert!(message.contains("no value under \"size\""), "{message}");
    assert_eq!(host.command("call", "greet c").unwrap(), "hello c");
    assert_eq!(remote_failure(host.command("call", "nothing")).0, PLUGHOST_ERR_SERVICE_NOT_FOUND);
    let id = host.command("subscribe", "plugin_c.news").unwrap();
    assert_eq!(host.command("publish", "hi").unwrap(), "1", "its own subscription is reached");
    bus.publish("host", "plugin_c.news", b"more");
    host.eventually("two events", || host.command("events", "").unwrap() == "2");
    host.command("unsubscribe", &id).unwrap();
    assert_eq!(remote_failure(host.command("unsubscribe", &id)).0, PLUGHOST_ERR_INVALID_HANDLE);
    assert_eq!(host.command("publish", "again").unwrap(), "0");
    assert_eq!(bus.published.lock().unwrap()[0], ("cplug".into(), "plugin_c.news".into(), b"hi".to_vec()));
    let (status, _) = remote_failure(host.command("fly", ""));
    assert_eq!(status, PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND);
    host.shutdown().unwrap();
    assert_eq!(host.wait_exit().code(), Some(0));
    let logged: Vec<String> = bus.logged("cplug").into_iter().map(|(_, m)| m).collect();
    assert_eq!(logged, ["plugin_c ready", "plugin_c stops"]);

    // A crash fails the call in flight; the host sees the peer die.
    let mut host = FakeHost::start(&bus, &exe, &[], "cplug2");
    assert!(matches!(host.command("abort", ""), Err(IpcError::PeerDead(_))));
    assert!(host.wait_exit().code().is_none(), "killed by SIGABRT");
}
