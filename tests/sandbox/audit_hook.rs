//! The Python audit hook, tried with the system's python3 (no operating-system layer here, so
//! what is refused is refused by the hook alone).

use crate::Test;
use plughost::sandbox::PYTHON_AUDIT_HOOK;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

pub const TESTS: &[Test] = &[
    ("audit_hook_refuses_escapes", audit_hook_refuses_escapes),
    ("audit_hook_allows_what_the_policy_allows", audit_hook_allows_what_the_policy_allows),
    ("audit_hook_resists_tampering", audit_hook_resists_tampering),
];

/// Installs the hook from the environment with the policy in `argv`, then runs each attempt and
/// prints `<name> ok|denied|other:<type>`.
const PRELUDE: &str = r#"
import json, os, sys
ns = {}
exec(compile(os.environ["PLUGHOST_AUDIT_HOOK"], "<plughost-audit-hook>", "exec"), ns)
root, outside = sys.argv[1], sys.argv[2]
ns["install"]([root], *json.loads(sys.argv[3]))
del ns
def attempt(name, f):
    try:
        f()
        print(name, "ok")
    except PermissionError:
        print(name, "denied")
    except Exception as e:
        print(name, "other:" + type(e).__name__)
j = os.path.join
"#;

/// The attempts of both policy tests.
const ATTEMPTS: &str = r#"
attempt("write-inside", lambda: open(j(root, "a.txt"), "w").write("x"))
attempt("append-inside", lambda: open(j(root, "a.txt"), "a").write("y"))
attempt("mkdir-inside", lambda: os.mkdir(j(root, "d")))
attempt("rmtree-inside", lambda: __import__("shutil").rmtree(j(root, "d")))
attempt("write-outside", lambda: open(j(outside, "b.txt"), "w"))
attempt("os-open-outside", lambda: os.open(j(outside, "c.txt"), os.O_WRONLY | os.O_CREAT))
attempt("dotdot-outside", lambda: open(j(root, "..", "outside", "d.txt"), "x"))
attempt("symlink-escape", lambda: open(j(root, "link", "e.txt"), "w"))
attempt("remove-outside", lambda: os.remove(j(outside, "victim.txt")))
attempt("rename-out", lambda: os.rename(j(root, "a.txt"), j(outside, "a.txt")))
attempt("mkdir-outside", lambda: os.mkdir(j(outside, "made")))
attempt("tempfile-outside", lambda: __import__("tempfile").mkstemp(dir=outside))
attempt("read-outside", lambda: open(j(outside, "victim.txt")).read())
attempt("devnull", lambda: open(os.devnull, "w").write("x"))
import socket
attempt("socket-inet", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close())
attempt("socketpair", lambda: [s.close() for s in socket.socketpair()])
attempt("getaddrinfo", lambda: socket.getaddrinfo("localhost", 80))
attempt("subprocess", lambda: __import__("subprocess").run(["true"], check=True))
attempt("os-system", lambda: os.system("true"))
attempt("os-posix-spawn", lambda: os.waitpid(os.posix_spawn("/bin/true", ["true"], {}), 0))
attempt("import-ctypes", lambda: __import__("ctypes"))
attempt("import-_ctypes", lambda: __import__("_ctypes"))
attempt("import-json", lambda: __import__("json"))
"#;

/// Whether python3 is installed; says the test is skipped when not.
pub fn python_present() -> bool {
    let present = Command::new("python3").arg("-c").arg("pass").status().is_ok_and(|s| s.success());
    if !present {
        eprintln!("skipped: no python3 on PATH");
    }
    present
}

/// Runs `before`, the prelude, then `script`, with `policy` (the JSON list of the other install arguments) in
/// a scratch directory (`root`, `outside`, `outside/victim.txt`, `root/link` -> `outside`).
fn run(before: &str, script: &str, policy: &str) -> Option<(HashMap<String, String>, std::path::PathBuf)> {
    if !python_present() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap().keep();
    let (root, outside) = (dir.join("root"), dir.join("outside"));
    std::fs::create_dir(&root).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("victim.txt"), b"keep me").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(format!("{before}{PRELUDE}{script}"))
        .args([root.as_os_str(), outside.as_os_str(), policy.as_ref()])
        .env("PLUGHOST_AUDIT_HOOK", PYTHON_AUDIT_HOOK)
        .env("TMPDIR", &outside)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let results = stdout
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(name, result)| (name.to_string(), result.to_string()))
        .collect();
    Some((results, dir))
}

fn expect(results: &HashMap<String, String>, expected: &[(&str, &str)]) {
    for (name, want) in expected {
        assert_eq!(results.get(*name).map(String::as_str), Some(*want), "{name} in {results:?}");
    }
}

fn audit_hook_refuses_escapes() {
    let Some((results, dir)) = run("", ATTEMPTS, r#"[false, false, ["ctypes", "_ctypes"]]"#) else { return };
    expect(
        &results,
        &[
            ("write-inside", "ok"),
            ("append-inside", "ok"),
            ("mkdir-inside", "ok"),
            ("rmtree-inside", "ok"),
            ("write-outside", "denied"),
            ("os-open-outside", "denied"),
            ("dotdot-outside", "denied"),
            ("symlink-escape", "denied"),
            ("remove-outside", "denied"),
            ("rename-out", "denied"),
            ("mkdir-outside", "denied"),
            ("tempfile-outside", "denied"),
            ("read-outside", "ok"),
            ("devnull", "ok"),
            ("socket-inet", "denied"),
            ("socketpair", "ok"),
            ("getaddrinfo", "denied"),
            ("subprocess", "denied"),
            ("os-system", "denied"),
            ("os-posix-spawn", "denied"),
            ("import-ctypes", "denied"),
            ("import-_ctypes", "denied"),
            ("import-json", "ok"),
        ],
    );
    let outside = dir.join("outside");
    assert_eq!(std::fs::read(outside.join("victim.txt")).unwrap(), b"keep me");
    for name in ["b.txt", "c.txt", "d.txt", "e.txt", "a.txt", "made"] {
        assert!(!outside.join(name).exists(), "{name} was written");
    }
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1, "tempfile wrote outside");
    remove(&dir);
}

fn audit_hook_allows_what_the_policy_allows() {
    let Some((results, dir)) = run("", ATTEMPTS, r#"[true, true, []]"#) else { return };
    expect(
        &results,
        &[
            ("write-inside", "ok"),
            ("write-outside", "denied"),
            ("socket-inet", "ok"),
            ("subprocess", "ok"),
            ("os-system", "ok"),
            ("import-ctypes", "ok"),
        ],
    );
    remove(&dir);
}

/// The hook's functions cannot be swapped out, ctypes imported before install is dropped, and a
/// second hook cannot undo the first.
const TAMPER: &str = r#"
def f(): pass
attempt("swap-code", lambda: setattr(f, "__code__", (lambda: 1).__code__))
attempt("swap-defaults-of-others", lambda: setattr(f, "__defaults__", ()))
def find_hook():
    try:
        open(j(outside, "x"), "w")
    except PermissionError as e:
        tb = e.__traceback__
        while tb.tb_next:
            tb = tb.tb_next
        return tb.tb_frame.f_code, tb.tb_frame.f_locals
code, hook_locals = find_hook()
inside = hook_locals["_inside"]
attempt("swap-hook-defaults", lambda: setattr(inside, "__defaults__", (None, (("/", "/"),)) + inside.__defaults__[2:]))
attempt("swap-hook-code", lambda: setattr(inside, "__code__", (lambda *a: True).__code__))
attempt("write-after-tampering", lambda: open(j(outside, "y"), "w"))
sys.addaudithook(lambda *a: None)
attempt("write-after-second-hook", lambda: open(j(outside, "z"), "w"))
attempt("ctypes-in-sys-modules", lambda: sys.modules["ctypes"])
"#;

fn audit_hook_resists_tampering() {
    let Some((results, dir)) = run("import ctypes\n", TAMPER, r#"[false, false, ["ctypes"]]"#) else { return };
    expect(
        &results,
        &[
            ("swap-code", "denied"),
            ("swap-defaults-of-others", "ok"),
            ("swap-hook-defaults", "denied"),
            ("swap-hook-code", "denied"),
            ("write-after-tampering", "denied"),
            ("write-after-second-hook", "denied"),
            ("ctypes-in-sys-modules", "other:KeyError"),
        ],
    );
    remove(&dir);
}

fn remove(dir: &Path) {
    std::fs::remove_dir_all(dir).unwrap();
}
