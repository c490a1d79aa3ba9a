//! Sandbox tests. Every operating-system escape is tried in a child process (this binary run again
//! with a mode in an environment variable) that applies the policy and then tries the escape; the
//! audit hook is tried with the system's python3. The binary has its own small runner
//! (`harness = false`) because the sandbox must be applied while the process has one thread,
//! which libtest's runner never allows.
//!
//! Run with `cargo test --test sandbox [filter...]`. Linux only; elsewhere it checks that the
//! report claims no operating-system layer.

#[cfg(target_os = "linux")]
mod audit_hook;
#[cfg(target_os = "linux")]
mod child;
#[cfg(target_os = "linux")]
mod os_layers;

#[cfg(target_os = "linux")]
use std::panic::{self, UnwindSafe};

/// A named test.
#[cfg(target_os = "linux")]
type Test = (&'static str, fn());

#[cfg(not(target_os = "linux"))]
fn main() {
    let report = plughost::sandbox::apply(&plughost::sandbox::SandboxPolicy::default()).unwrap();
    assert!(report.layers().iter().all(|(_, state)| !state.is_enforced()), "{report}");
    println!("sandbox tests: no operating-system layer on this platform ({report})");
}

#[cfg(target_os = "linux")]
fn main() {
    if let Ok(mode) = std::env::var(child::CHILD_ENV) {
        child::run(&mode);
    }
    let filters = filters();
    let tests: Vec<Test> = os_layers::TESTS.iter().chain(audit_hook::TESTS).copied().collect();
    let mut failed = Vec::new();
    let mut ran = 0;
    for (name, test) in tests {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        if run_one(test) {
            println!("test {name} ... ok");
        } else {
            println!("test {name} ... FAILED");
            failed.push(name);
        }
    }
    println!("\nsandbox tests: {ran} run, {} failed {failed:?}", failed.len());
    if !failed.is_empty() {
        std::process::exit(1);
    }
}

#[cfg(target_os = "linux")]
fn run_one(test: impl FnOnce() + UnwindSafe) -> bool {
    panic::catch_unwind(test).is_ok()
}

/// The words of the command line that are test-name filters (libtest's flags are ignored).
#[cfg(target_os = "linux")]
fn filters() -> Vec<String> {
    let mut filters = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--test-threads" | "--skip" | "--format" | "--color" | "--logfile" | "-Z" => {
                args.next();
            }
            flag if flag.starts_with('-') => {}
            _ => filters.push(arg),
        }
    }
    filters
}
