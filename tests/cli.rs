//! The `plughost` command-line tool, run as a process: help, `config validate`, `run`, `watch`
//! and `health`, with their outputs, errors and exit statuses.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{replace_file, rust_modules, Sandbox};

const PATIENCE: Duration = Duration::from_secs(30);

fn plughost(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plughost")).args(args).output().expect("plughost runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Write `json` into a file of `sb` and return its path as text.
fn config_file(sb: &Sandbox, name: &str, json: &str) -> String {
    let path = sb.dir.path().join(name);
    std::fs::write(&path, json).unwrap();
    path.display().to_string()
}

fn s(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn help_names_every_command_with_examples() {
    let out = plughost(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for command in ["config", "run", "watch", "health", "Examples:", "plughost run --config"] {
        assert!(help.contains(command), "{command} in\n{help}");
    }
    for command in
        [&["run", "--help"][..], &["watch", "--help"], &["health", "--help"], &["config", "validate", "--help"]]
    {
        let out = plughost(command);
        assert!(out.status.success(), "{command:?}");
        assert!(text(&out.stdout).contains("Examples:"), "{command:?}: {}", text(&out.stdout));
    }
    let out = plughost(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "wrong usage");
    assert!(text(&out.stderr).contains("unrecognized subcommand"), "{}", text(&out.stderr));
}

#[test]
fn config_validate_lists_every_problem_with_its_path() {
    let sb = Sandbox::new();
    let good = config_file(&sb, "good.json", r#"{"PlugHost": {"Profile": "production"}}"#);
    let out = plughost(&["config", "validate", &good]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{good}: valid (profile production)\n"));

    let bad = config_file(
        &sb,
        "bad.json",
        r#"{"PlugHost": {"Profile": "staging", "Modules": {"Wach": {}}, "Health": {"MaxRetryAttempts": -1}}}"#,
    );
    let out = plughost(&["config", "validate", &bad]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "$.PlugHost.Profile: expected one of development, production, found \"staging\"\n\
         $.PlugHost.Modules.Wach: unknown key; did you mean \"Watch\"?\n\
         $.PlugHost.Health.MaxRetryAttempts: expected an integer from 0 to 1000, found -1\n"
    );
    assert!(text(&out.stderr).contains("3 problem(s)"), "{}", text(&out.stderr));

    let out = plughost(&["config", "validate", &config_file(&sb, "broken.json", "{oops")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).starts_with("$: configuration is not valid JSON"), "{}", text(&out.stdout));
    let out = plughost(&["config", "validate", "/no/such/file.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("error: cannot read /no/such/file.json"), "{}", text(&out.stderr));
}

#[test]
fn run_prints_the_output_of_a_command() {
    let sb = Sandbox::new();
    let module = sb.install(&rust_modules().counter, "counter");
    let out = plughost(&["run", &s(&module), "increment", "--input", "5"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "5\n");
    let progress = text(&out.stderr);
    assert!(progress.contains("loading module") && progress.contains("done ("), "{progress}");

    let input = sb.dir.path().join("input.json");
    std::fs::write(&input, r#"{"x": 1}"#).unwrap();
    let config = config_file(&sb, "c.json", &sb.config(""));
    let out =
        plughost(&["run", "--quiet", "--config", &config, &s(&module), "echo", "--input", &format!("@{}", s(&input))]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "{\"x\": 1}\n");
    assert_eq!(text(&out.stderr), "", "--quiet prints no progress");
}

#[test]
fn run_explains_what_went_wrong() {
    let sb = Sandbox::new();
    let module = sb.install(&rust_modules().counter, "counter");
    let out = plughost(&["run", &s(&module), "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("error: nosuch failed: module \"counter\" has no command \"nosuch\""), "{err}");
    assert!(err.contains("PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND"), "{err}");

    let out = plughost(&["run", "/no/such/libmodule.so", "get"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("hint: check the path"), "{}", text(&out.stderr));

    let config = config_file(&sb, "c.json", &sb.config(""));
    let outside = sb.outside().join("libcounter.so");
    replace_file(&rust_modules().counter, &outside);
    let out = plughost(&["run", "-c", &config, &s(&outside), "get"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("hint: add its folder to PlugHost.Modules.TrustedRoots"),
        "{}",
        text(&out.stderr)
    );

    let bad = config_file(&sb, "bad.json", r#"{"PlugHost": {"Logging": {"Level": "loud"}}}"#);
    let out = plughost(&["run", "-c", &bad, &s(&module), "get"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("has 1 problem(s):\n  $.PlugHost.Logging.Level: expected one of"), "{err}");

    let out = plughost(&["run", &s(&module), "get", "--input", "@/no/such/input"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read the input file /no/such/input"), "{}", text(&out.stderr));
}

/// Start `plughost watch` on `module`, wait until it watches, let `change` replace the file, and
/// return the lines it printed after `outcomes` reload outcomes (it exits by itself).
fn watch(module: &Path, outcomes: u32, change: impl FnOnce()) -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_plughost"))
        .args(["watch", "--debounce-ms", "50", "--exit-after", &outcomes.to_string(), &s(module)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("watching ") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "plughost watch ended before watching");
    }
    assert!(line.contains("debounce 50 ms"), "{line}");
    change();
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("plughost watch did not end after {outcomes} outcome(s)");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success());
    let mut stdout = String::new();
    child.stdout.take().unwrap().read_to_string(&mut stdout).unwrap();
    stdout.lines().map(str::to_owned).collect()
}

#[test]
fn watch_prints_reloads_and_rollbacks() {
    let sb = Sandbox::new();
    let module = sb.install(&rust_modules().counter, "counter");
    let lines = watch(&module, 1, || replace_file(&rust_modules().counter_v2, &module));
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], format!("reloading counter from {}", s(&module.canonicalize().unwrap())));
    assert!(lines[1].starts_with("reloaded counter: generation 2, serving "), "{lines:?}");

    let lines = watch(&module, 1, || replace_file(&rust_modules().counter_broken, &module));
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].starts_with("rolled back counter: ") && lines[1].contains("init"), "{lines:?}");
}

#[test]
fn health_prints_the_report_after_a_check() {
    let sb = Sandbox::new();
    let module = sb.install(&rust_modules().counter, "counter");
    let config = config_file(
        &sb,
        "c.json",
        r#"{"PlugHost": {"Profile": "production", "Health": {"MaxRetryAttempts": 1},
            "Plugins": {"Declared": [{"Name": "ghost", "Path": "/no/such/program", "Restart": "never"}]}}}"#,
    );
    let out = plughost(&["health", "--config", &config, "--module", &s(&module)]);
    assert!(out.status.success(), "degraded is not a failure: {}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "degraded");
    assert_eq!(report["profile"], "production");
    assert_eq!(report["modules"][0]["name"], "counter");
    let check = &report["last_check"];
    assert_eq!(check["trigger"], "request");
    let plugins = check["probes"].as_array().unwrap().iter().find(|p| p["component"] == "plugins").unwrap();
    assert_eq!(plugins["status"], "degraded");
    assert_eq!(check["recoveries"][0]["target"], "ghost");
    assert_eq!(check["recoveries"][0]["outcome"], "failed");

    let out = plughost(&["health", "-q", "--history"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let history: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(history[0]["status"], "healthy");
    assert_eq!(history[0]["run"], 1);
}
