//! The in-process mode of pooled Python (`PlugHost.Python.Mode` = "in-process", cargo feature
//! `python-inprocess`): values and exceptions, output captured per thread under concurrency,
//! sessions, host services, C extension modules, the queue, and its best-effort timeouts.
//! Every host in this binary shares the process's one interpreter.
#![cfg(feature = "python-inprocess")]

mod support;

use plughost::config::PythonMode;
use plughost::python::{PythonRun, PythonValue};
use plughost::{ErrorKind, Host};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn host(settings: &str) -> Arc<Host> {
    let comma = if settings.is_empty() { "" } else { ", " };
    let config = format!(r#"{{"PlugHost": {{"Python": {{"Mode": "in-process"{comma}{settings}}}}}}}"#);
    Host::from_json(&config).unwrap_or_else(|e| panic!("{config}: {e}"))
}

fn value(host: &Host, run: PythonRun) -> PythonValue {
    let output = host.run_python(&run).unwrap_or_else(|e| panic!("{run:?}: {e}"));
    output.into_value().unwrap_or_else(|e| panic!("{run:?}: {e}"))
}

#[test]
fn values_exceptions_and_status() {
    let host = host(r#""Workers": 2"#);
    assert_eq!(value(&host, PythonRun::code("1 + 2")), PythonValue::Json(json!(3)));
    assert_eq!(value(&host, PythonRun::code("b'\\x00\\xff'")), PythonValue::Bytes(vec![0, 255]));
    let echoed = PythonRun::code("{'got': args}").with_args(json!({"items": [1, 2]}));
    assert_eq!(value(&host, echoed), PythonValue::Json(json!({"got": {"items": [1, 2]}})));
    let function = PythonRun::function("json", "dumps").with_args(json!([[1]]));
    assert_eq!(value(&host, function), PythonValue::Json(json!("[1]")));

    let output = host.run_python(&PythonRun::code("print('before')\ndef f():\n    1 / 0\nf()")).unwrap();
    let raised = output.result.clone().unwrap_err();
    assert_eq!((raised.kind.as_str(), raised.message.as_str()), ("ZeroDivisionError", "division by zero"));
    assert!(raised.traceback.contains("line 3, in f") && raised.traceback.contains("line 4"), "{}", raised.traceback);
    assert!(!raised.traceback.contains("plughost-prelude"), "the prelude's frames are hidden: {}", raised.traceback);
    assert_eq!(output.stdout, "before\n");
    value(&host, PythonRun::code("leftover = 1"));
    assert_eq!(host.run_python(&PythonRun::code("leftover")).unwrap().result.unwrap_err().kind, "NameError");

    let status = host.python_status();
    assert_eq!((status.mode, status.state, status.threads), (PythonMode::InProcess, "started", 2));
    assert_eq!(status.python.as_deref().map(|v| v.starts_with("3.")), Some(true));
    assert!(status.runs >= 7 && status.raised >= 2, "{status:?}");
}

#[test]
fn output_is_captured_per_thread() {
    let host = host(r#""Workers": 4"#);
    let host = &host;
    std::thread::scope(|scope| {
        for t in 0..4 {
            scope.spawn(move || {
                for i in 0..20 {
                    let code = format!(
                        "import sys, time\nfor k in range(3):\n    print('{t}-{i}', k)\n    sys.stderr.write('e{t}')\n    time.sleep(0.001)"
                    );
                    let output = host.run_python(&PythonRun::code(code)).unwrap();
                    assert_eq!(output.stdout, format!("{t}-{i} 0\n{t}-{i} 1\n{t}-{i} 2\n"));
                    assert_eq!(output.stderr, format!("e{t}e{t}e{t}"));
                }
            });
        }
    });
}

#[test]
fn sessions_keep_their_globals_per_host() {
    let (a, b) = (host(""), host(""));
    value(&a, PythonRun::code("n = 1").in_session("s"));
    value(&a, PythonRun::code("n += 1").in_session("s"));
    assert_eq!(value(&a, PythonRun::code("n").in_session("s")), PythonValue::Json(json!(2)));
    // Another host's session of the same name is its own.
    let raised = b.run_python(&PythonRun::code("n").in_session("s")).unwrap().result.unwrap_err();
    assert_eq!(raised.kind, "NameError");
    assert!(a.drop_python_session("s").unwrap());
    let raised = a.run_python(&PythonRun::code("n").in_session("s")).unwrap().result.unwrap_err();
    assert_eq!(raised.kind, "NameError");
}

#[test]
fn scripts_reach_the_host_services() {
    support::check_python_host_services(&host(""));
}

#[test]
fn c_extension_modules_import() {
    let host = host("");
    let code = "import ctypes, decimal, json, _json\n[ctypes.sizeof(ctypes.c_int32), str(decimal.Decimal('1.10') + decimal.Decimal('2')), json.decoder.c_scanstring is not None]";
    assert_eq!(value(&host, PythonRun::code(code)), PythonValue::Json(json!([4, "3.10", true])));
}

#[test]
fn a_python_loop_is_stopped_at_its_timeout_and_the_thread_serves_again() {
    let host = host(r#""Workers": 1"#);
    let started = Instant::now();
    let e = host
        .run_python(&PythonRun::code("while True:\n    pass").with_timeout(Duration::from_millis(300)))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.message().contains("stopped by a TimeoutError"), "{e}");
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    // The one thread was not abandoned: it runs the next script.
    assert_eq!(value(&host, PythonRun::code("'after'")), PythonValue::Json(json!("after")));
    let status = host.python_status();
    assert_eq!((status.timeouts, status.poisoned_threads, status.threads), (1, 0, 1));
}

#[test]
fn a_run_that_swallows_the_interrupt_has_its_thread_replaced() {
    let host = host(r#""Workers": 1"#);
    let code = "import time\nend = time.monotonic() + 3\nwhile time.monotonic() < end:\n    try:\n        time.sleep(0.01)\n    except BaseException:\n        pass";
    let e = host.run_python(&PythonRun::code(code).with_timeout(Duration::from_millis(200))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.message().contains("did not stop") && e.message().contains("best effort"), "{e}");
    // A new thread took its place while the old one still runs its script.
    assert_eq!(value(&host, PythonRun::code("'served'")), PythonValue::Json(json!("served")));
    let status = host.python_status();
    assert_eq!((status.timeouts, status.poisoned_threads), (1, 1));
    assert_eq!(status.threads, 2, "the abandoned thread lives until its script ends");
}

#[test]
fn a_full_queue_is_saturation() {
    let host = host(r#""Workers": 1, "QueueLimit": 1"#);
    let host = &host;
    std::thread::scope(|scope| {
        let busy = scope.spawn(|| host.run_python(&PythonRun::code("import time\ntime.sleep(0.6)")));
        std::thread::sleep(Duration::from_millis(150));
        let waiting = scope.spawn(|| host.run_python(&PythonRun::code("'waited'")));
        std::thread::sleep(Duration::from_millis(150));
        let e = host.run_python(&PythonRun::code("1")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PoolSaturated, "{e}");
        busy.join().unwrap().unwrap();
        let waited = waiting.join().unwrap().unwrap().into_value().unwrap();
        assert_eq!(waited, PythonValue::Json(json!("waited")));
    });
    assert_eq!(host.python_status().saturated, 1);
}

/// A C host that loads the library with `RTLD_LOCAL` (as most non-Python hosts do) and imports
/// C extension modules in-process (`tests/c/inprocess_rtld_local.c`).
#[cfg(target_os = "linux")]
#[test]
fn c_extension_modules_import_when_a_c_host_loads_the_library_rtld_local() {
    // The library as a C host gets it: the cdylib, built with the feature into its own folder.
    let target = support::repo().join("target").join("inprocess-lib");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = std::process::Command::new(cargo)
        .args(["build", "--quiet", "--lib", "--features", "python-inprocess", "--target-dir"])
        .arg(&target)
        .current_dir(support::repo())
        .status()
        .unwrap();
    assert!(built.success());
    let library = target.join("debug").join("libplughost.so");
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("inprocess_rtld_local");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/inprocess_rtld_local.c");
    let built = std::process::Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&program)
        .arg(&source)
        .arg("-ldl")
        .status()
        .unwrap();
    assert!(built.success());
    let out = std::process::Command::new(&program).arg(&library).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let answer: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(answer["result"], json!([2, "1.5"]), "{stdout}");
}
