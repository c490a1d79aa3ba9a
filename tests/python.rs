//! The Python pool through the Rust API: results of every kind, captured output (also under
//! concurrency), persistent sessions, host services from scripts, and what the pool does about
//! scripts that misbehave: timeouts of a Python loop and of a C-level sleep, `os._exit` and a
//! segfault, a memory bomb, a full queue, lost sessions, recycling, an unavailable Python.
#![cfg(target_os = "linux")]

mod support;

use plughost::python::{PythonRun, PythonValue};
use plughost::{ErrorKind, Host};
use serde_json::json;
use std::time::{Duration, Instant};
use support::python_host;

fn value(host: &Host, run: PythonRun) -> PythonValue {
    let output = host.run_python(&run).unwrap_or_else(|e| panic!("{run:?}: {e}"));
    output.into_value().unwrap_or_else(|e| panic!("{run:?}: {e}"))
}

fn error_kind(host: &Host, run: PythonRun) -> (ErrorKind, String) {
    let e = host.run_python(&run).expect_err(&format!("{run:?} should fail"));
    (e.kind(), e.message().to_owned())
}

#[test]
fn results_of_every_kind() {
    let host = python_host(r#""Workers": 1"#);
    assert_eq!(value(&host, PythonRun::code("1 + 2")), PythonValue::Json(json!(3)));
    assert_eq!(value(&host, PythonRun::code("x = 1")), PythonValue::Json(json!(null)));
    assert_eq!(value(&host, PythonRun::code("b'\\x00\\xff'")), PythonValue::Bytes(vec![0, 255]));
    let echoed = PythonRun::code("{'got': args, 'n': len(args['items'])}").with_args(json!({"items": [1, 2]}));
    assert_eq!(value(&host, echoed), PythonValue::Json(json!({"got": {"items": [1, 2]}, "n": 2})));
    let function = PythonRun::function("json", "dumps").with_args(json!([{"a": 1}])).with_kwargs(json!({"indent": 1}));
    assert_eq!(value(&host, function), PythonValue::Json(json!("{\n \"a\": 1\n}")));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("script.py");
    std::fs::write(&file, "import sys\nprint('from a file')\nsys.version_info[0]\n").unwrap();
    let output = host.run_python(&PythonRun::file(file.display().to_string())).unwrap();
    assert_eq!((output.stdout.as_str(), output.result.clone()), ("from a file\n", Ok(PythonValue::Json(json!(3)))));

    // Exceptions are answers, with the traceback naming the script's line.
    let output = host.run_python(&PythonRun::code("print('before')\n1 / 0")).unwrap();
    let raised = output.result.clone().unwrap_err();
    assert_eq!((raised.kind.as_str(), raised.message.as_str()), ("ZeroDivisionError", "division by zero"));
    assert!(raised.traceback.contains("line 2"), "{}", raised.traceback);
    assert!(!raised.traceback.contains("plughost-prelude"), "the worker's own frames are hidden: {}", raised.traceback);
    assert_eq!(output.stdout, "before\n");
    let e = output.into_value().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PythonError);
    let raised = host.run_python(&PythonRun::code("object()")).unwrap().result.unwrap_err();
    assert!(raised.message.contains("not JSON-compatible"), "{}", raised.message);
    let raised = host.run_python(&PythonRun::code("def f(:\n  pass")).unwrap().result.unwrap_err();
    assert_eq!(raised.kind, "SyntaxError");
    let raised = host.run_python(&PythonRun::function("no_such_module", "f")).unwrap().result.unwrap_err();
    assert_eq!(raised.kind, "ModuleNotFoundError");

    // Fresh globals for every run without a session.
    value(&host, PythonRun::code("leftover = 1"));
    let raised = host.run_python(&PythonRun::code("leftover")).unwrap().result.unwrap_err();
    assert_eq!(raised.kind, "NameError");
}

#[test]
fn output_is_captured_per_run_and_cut_at_the_limit() {
    let host = python_host(r#""Workers": 2, "MaxOutputChars": 10"#);
    let output = host.run_python(&PythonRun::code("import sys\nprint('x' * 25)\nsys.stderr.write('err')")).unwrap();
    assert_eq!((output.stdout.as_str(), output.stderr.as_str(), output.truncated), ("xxxxxxxxxx", "err", true));

    let host = python_host(r#""Workers": 2"#);
    let host = &host;
    std::thread::scope(|scope| {
        for t in 0..4 {
            scope.spawn(move || {
                for i in 0..15 {
                    let code =
                        format!("import time\nfor k in range(3):\n    print('{t}-{i}', k)\n    time.sleep(0.001)");
                    let output = host.run_python(&PythonRun::code(code)).unwrap();
                    assert_eq!(output.stdout, format!("{t}-{i} 0\n{t}-{i} 1\n{t}-{i} 2\n"));
                }
            });
        }
    });
    let status = host.python_status();
    assert_eq!(status.runs, 60);
    assert!(status.workers.iter().all(|w| w.runs > 0), "both workers ran: {:?}", status.workers);
}

#[test]
fn named_sessions_keep_their_globals_until_dropped() {
    let host = python_host(r#""Workers": 3"#);
    value(&host, PythonRun::code("total = 10").in_session("a"));
    value(&host, PythonRun::code("total = 100").in_session("b"));
    for _ in 0..5 {
        value(&host, PythonRun::code("total += 1").in_session("a"));
    }
    assert_eq!(value(&host, PythonRun::code("total").in_session("a")), PythonValue::Json(json!(15)));
    assert_eq!(value(&host, PythonRun::code("total").in_session("b")), PythonValue::Json(json!(100)));
    assert!(host.drop_python_session("a").unwrap());
    assert!(!host.drop_python_session("a").unwrap());
    let raised = host.run_python(&PythonRun::code("total").in_session("a")).unwrap().result.unwrap_err();
    assert_eq!(raised.kind, "NameError");
    assert_eq!(host.python_status().sessions, 2);
}

#[test]
fn scripts_reach_the_host_services() {
    support::check_python_host_services(&python_host(r#""Workers": 1"#));
}

#[test]
fn timeouts_kill_the_worker_and_the_pool_goes_on() {
    let host = python_host(r#""Workers": 1"#);
    value(&host, PythonRun::code("warm = 1").in_session("s"));
    for code in [
        "while True:\n    pass",
        "import time\ntime.sleep(60)",
        "try:\n    while True: pass\nexcept BaseException:\n    while True: pass",
    ] {
        let started = Instant::now();
        let (kind, message) = error_kind(&host, PythonRun::code(code).with_timeout(Duration::from_millis(300)));
        assert_eq!(kind, ErrorKind::Timeout, "{message}");
        assert!(started.elapsed() < Duration::from_secs(5), "the timeout ended the run: {:?}", started.elapsed());
        assert_eq!(value(&host, PythonRun::code("'alive'")), PythonValue::Json(json!("alive")));
    }
    let (kind, _) = error_kind(&host, PythonRun::code("warm").in_session("s"));
    assert_eq!(kind, ErrorKind::PythonSessionLost);
    let raised = host.run_python(&PythonRun::code("warm").in_session("s")).unwrap().result.unwrap_err();
    assert_eq!(raised.kind, "NameError", "the next run starts the session afresh");
    let status = host.python_status();
    assert_eq!((status.timeouts, status.workers[0].timeouts), (3, 3));
    assert!(status.workers[0].restarts >= 3);
}

#[test]
fn crashing_workers_are_replaced() {
    let host = python_host(r#""Workers": 1"#);
    for code in ["import os\nos._exit(3)", "import ctypes\nctypes.memset(16, 1, 8)", "import os\nos.abort()"] {
        let (kind, message) = error_kind(&host, PythonRun::code(code));
        assert_eq!(kind, ErrorKind::PythonWorkerCrashed, "{code}: {message}");
        assert_eq!(value(&host, PythonRun::code("6 * 7")), PythonValue::Json(json!(42)), "after {code}");
    }
    assert_eq!(host.python_status().workers[0].crashes, 3);
}

#[test]
fn a_memory_bomb_hits_the_limit_and_the_worker_is_replaced() {
    let host = python_host(r#""Workers": 1, "MemoryLimitMb": 300"#);
    let pid = host.python_status().workers.first().and_then(|w| w.pid);
    let (kind, message) =
        error_kind(&host, PythonRun::code("blocks = []\nwhile True:\n    blocks.append(bytearray(50 << 20))"));
    assert_eq!(kind, ErrorKind::PythonMemoryLimit, "{message}");
    assert!(message.contains("300 MB"), "{message}");
    assert_eq!(value(&host, PythonRun::code("len(bytearray(10 << 20))")), PythonValue::Json(json!(10 << 20)));
    let status = host.python_status();
    assert_eq!((status.memory_errors, status.workers[0].recycles), (1, 1));
    assert_ne!(status.workers[0].pid, pid);
}

#[test]
fn a_full_queue_is_saturation_and_a_long_wait_a_timeout() {
    let host = python_host(r#""Workers": 1, "QueueLimit": 1"#);
    value(&host, PythonRun::code("1"));
    let host = &host;
    std::thread::scope(|scope| {
        let busy = scope.spawn(|| value(host, PythonRun::code("import time\ntime.sleep(1.0)\n'slept'")));
        std::thread::sleep(Duration::from_millis(200));
        let queued = scope.spawn(|| value(host, PythonRun::code("'queued'")));
        std::thread::sleep(Duration::from_millis(200));
        let (kind, message) = error_kind(host, PythonRun::code("'refused'"));
        assert_eq!(kind, ErrorKind::PoolSaturated, "{message}");
        assert_eq!(busy.join().unwrap(), PythonValue::Json(json!("slept")));
        assert_eq!(queued.join().unwrap(), PythonValue::Json(json!("queued")));
    });
    assert_eq!(host.python_status().saturated, 1);
}

#[test]
fn workers_are_recycled_after_their_runs() {
    let host = python_host(r#""Workers": 1, "RecycleAfterRuns": 3"#);
    let pid = || host.python_status().workers[0].pid;
    value(&host, PythonRun::code("1"));
    let first = pid();
    value(&host, PythonRun::code("1"));
    value(&host, PythonRun::code("1"));
    let second = pid();
    assert_ne!(first, second, "replaced after 3 runs");
    value(&host, PythonRun::code("1"));
    assert_eq!(pid(), second);
    assert_eq!(host.python_status().workers[0].recycles, 1);
}

#[test]
fn an_unavailable_python_is_a_clear_error() {
    let host =
        Host::from_json(r#"{"PlugHost": {"Python": {"WorkerPath": "/no/such/plughost-python-worker"}}}"#).unwrap();
    let (kind, message) = error_kind(&host, PythonRun::code("1"));
    assert_eq!(kind, ErrorKind::PythonUnavailable);
    assert!(message.contains("/no/such/plughost-python-worker"), "{message}");
    assert_eq!(host.python_status().state, "unavailable");

    let host = Host::from_json(r#"{"PlugHost": {"Python": {"Enabled": false}}}"#).unwrap();
    let (kind, message) = error_kind(&host, PythonRun::code("1"));
    assert_eq!(kind, ErrorKind::PythonUnavailable);
    assert!(message.contains("Enabled is false"), "{message}");

    let host = python_host(r#""Workers": 1"#);
    let e = host.run_python(&PythonRun::function("m", "f").with_args(json!({}))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn health_shows_the_pool_and_stop_ends_the_workers() {
    let host = python_host(r#""Workers": 2, "Start": "host-start""#);
    let deadline = Instant::now() + Duration::from_secs(20);
    while host.python_status().state != "started" {
        assert!(Instant::now() < deadline, "the pool started with the host: {:?}", host.python_status());
        std::thread::sleep(Duration::from_millis(10));
    }
    value(&host, PythonRun::code("1"));
    let health: serde_json::Value = serde_json::to_value(host.health()).unwrap();
    let python = &health["python"];
    assert_eq!(python["state"], "started");
    assert!(python["python"].as_str().unwrap().starts_with("Python 3."), "{python}");
    assert_eq!(python["workers"].as_array().unwrap().len(), 2);
    assert!(python["workers"][0]["rss_bytes"].as_u64().unwrap() > 1 << 20);
    let pids: Vec<u32> = host.python_status().workers.iter().filter_map(|w| w.pid).collect();
    assert_eq!(pids.len(), 2);
    host.stop();
    for pid in pids {
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "worker {pid} ended with the host");
    }
    assert_eq!(error_kind(&host, PythonRun::code("1")).0, ErrorKind::HostStopped);
}

#[test]
fn sandboxed_scripts_cannot_escape() {
    let allowed = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let root = allowed.path().display().to_string();
    let host = python_host(&format!(r#""Workers": 1, "Sandbox": {{"Enabled": true, "WritableRoots": [{root:?}]}}"#));
    let inside = allowed.path().join("ok.txt").display().to_string();
    let code = format!("open({inside:?}, 'w').write('fine')\nopen({inside:?}).read()");
    assert_eq!(value(&host, PythonRun::code(code)), PythonValue::Json(json!("fine")));
    let escape = outside.path().join("escape.txt").display().to_string();
    let attempts = [
        format!("open({escape:?}, 'w')"),
        format!("import os\nos.open({escape:?}, os.O_WRONLY | os.O_CREAT)"),
        "import socket\nsocket.create_connection(('127.0.0.1', 9))".to_owned(),
        "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM)".to_owned(),
        "import subprocess\nsubprocess.run(['true'])".to_owned(),
        "import os\nos.system('true')".to_owned(),
        "import os\nos.fork()".to_owned(),
        "import ctypes".to_owned(),
    ];
    for attempt in &attempts {
        let raised = host.run_python(&PythonRun::code(attempt.as_str())).unwrap().result.expect_err(attempt);
        assert_eq!(raised.kind, "PermissionError", "{attempt}: {raised:?}");
    }
    assert!(!outside.path().join("escape.txt").exists());
    // Threads still work; the report names the kernel layers.
    let threads =
        "import threading\nout = []\nt = threading.Thread(target=lambda: out.append(1))\nt.start(); t.join()\nout";
    assert_eq!(value(&host, PythonRun::code(threads)), PythonValue::Json(json!([1])));
    let report = host.python_status().sandbox;
    assert_eq!(report["landlock_filesystem"]["state"], "enforced", "{report}");
    assert_eq!(report["seccomp"]["state"], "enforced", "{report}");

    // Past the audit hook (ctypes allowed), the kernel still refuses: libc's open and socket.
    let host = python_host(r#""Workers": 1, "Sandbox": {"Enabled": true, "BlockedImports": []}"#);
    let native = format!(
        "import ctypes, ctypes.util\nlibc = ctypes.CDLL(None, use_errno=True)\n\
         fd = libc.open({escape:?}.encode(), 0o101, 0o600)\nsock = libc.socket(2, 1, 0)\n[fd, sock, ctypes.get_errno()]"
    );
    let answer = host.run_python(&PythonRun::code(native)).unwrap().result;
    match answer {
        Ok(PythonValue::Json(v)) => assert_eq!(v, json!([-1, -1, 13]), "open and socket fail with EACCES"),
        // The audit hook refuses ctypes calls themselves: also a refusal.
        Err(raised) => assert_eq!(raised.kind, "PermissionError", "{raised:?}"),
        other => panic!("{other:?}"),
    }
    assert!(!outside.path().join("escape.txt").exists());
}
