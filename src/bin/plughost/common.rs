//! What the subcommands share: the configuration file, starting a host, progress lines on
//! standard error, and turning errors into one readable line.

use plughost::config::Config;
use plughost::Host;
use std::fmt::Display;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Why a command failed: one line for standard error.
pub type Failure = String;

/// Where progress and logs go (standard error), and how much of it.
pub struct Output {
    quiet: bool,
    verbose: bool,
}

impl Output {
    /// `quiet` drops progress lines; `verbose` adds the host's log.
    pub fn new(quiet: bool, verbose: bool) -> Self {
        Output { quiet, verbose }
    }

    /// Run `step`, announcing it as `what` and reporting how long it took.
    pub fn step<T>(&self, what: impl Display, step: impl FnOnce() -> Result<T, Failure>) -> Result<T, Failure> {
        if !self.quiet {
            // Standard error is unbuffered: the step shows while it runs.
            eprint!("{what} ... ");
        }
        let started = Instant::now();
        let result = step();
        if !self.quiet {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            eprintln!("{} ({ms:.1} ms)", if result.is_ok() { "done" } else { "failed" });
        }
        result
    }

    /// A progress line (not printed with `--quiet`).
    pub fn note(&self, line: impl Display) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    /// Start a host with `config`, its log on standard error with `--verbose`.
    pub fn start_host(&self, config: Config) -> Result<Arc<Host>, Failure> {
        let host = self.step("starting the host", || Host::start(config).map_err(|e| describe(&e)))?;
        if self.verbose {
            host.set_log_level(4).map_err(|e| describe(&e))?;
            host.set_log_callback(Some(Arc::new(|level, target, message| {
                let level = ["off", "error", "warn", "info", "debug", "trace"].get(level as usize).unwrap_or(&"?");
                eprintln!("[{level} {target}] {message}");
            })));
        }
        Ok(host)
    }
}

/// One line for a plughost error: its message and its status name.
pub fn describe(error: &plughost::Error) -> Failure {
    error.to_string()
}

/// Read the configuration file `path` (none = the defaults), with every problem listed on failure.
pub fn read_config(path: Option<&Path>) -> Result<Config, Failure> {
    let Some(path) = path else { return Ok(Config::default()) };
    let text = read_text(path)?;
    Config::validate(&text).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        format!(
            "{} has {} problem(s):\n{}\n(`plughost config validate {}` lists them too)",
            path.display(),
            problems.len(),
            lines.join("\n"),
            path.display()
        )
    })
}

/// A text file's contents, or an error naming the file.
pub fn read_text(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Load the module at `path` into `host`, with progress.
pub fn load_module(out: &Output, host: &Host, path: &Path) -> Result<plughost::modules::ModuleId, Failure> {
    out.step(format!("loading module {}", path.display()), || {
        host.load_module(path).map_err(|e| {
            let hint = match e.kind() {
                plughost::ErrorKind::ModulePathNotTrusted => {
                    "\nhint: add its folder to PlugHost.Modules.TrustedRoots in the configuration"
                }
                plughost::ErrorKind::ModuleNotFound => "\nhint: check the path; build the module first",
                _ => "",
            };
            format!("cannot load {}: {}{hint}", path.display(), describe(&e))
        })
    })
}
