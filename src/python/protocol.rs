//! What the host and a Python worker process say to each other. A worker is a plugin process
//! (see [`crate::plugin`]): the host calls its plugin commands below with postcard-encoded
//! requests, and the worker reaches the host's services through the plugin host services.

use serde::{Deserialize, Serialize};

/// The plugin command that runs a script: input [`RunRequest`], output [`RunReply`].
pub const RUN: &str = "python.run";
/// The plugin command that forgets a named session's globals: input the name (UTF-8); output empty.
pub const DROP_SESSION: &str = "python.drop_session";
/// The plugin command that describes the worker: input empty; output JSON `{"python": version,
/// "sandbox": the sandbox's report or null}`.
pub const INFO: &str = "python.info";
/// The environment variable that gives a worker its [`WorkerSettings`] as JSON.
pub const SETTINGS_ENV: &str = "PLUGHOST_PYTHON_WORKER";
/// The name of the worker program (plus the platform's executable suffix).
pub const WORKER_PROGRAM: &str = "plughost-python-worker";
/// The exit code of a worker that cannot start Python (no usable libpython, a wrong version).
pub const EXIT_PYTHON_UNAVAILABLE: i32 = 3;

/// What a worker applies to itself before it starts Python.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerSettings {
    /// The address-space limit in bytes; 0: none.
    pub memory_limit: u64,
    /// Folders put in front of `sys.path`.
    pub sys_path: Vec<String>,
    /// The sandbox, when enabled.
    pub sandbox: Option<crate::sandbox::SandboxPolicy>,
}

/// What to run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Source {
    /// Python source text; `filename` names it in tracebacks.
    Code {
        /// The source.
        code: String,
        /// The name tracebacks show.
        filename: String,
    },
    /// A file of Python source, read by the worker.
    File(String),
    /// `function` of the importable `module`, called with the request's arguments.
    Function {
        /// A module name as `import` takes it.
        module: String,
        /// A callable attribute of the module.
        function: String,
    },
}

/// One run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRequest {
    /// What to run.
    pub source: Source,
    /// JSON: for a function, an array of positional arguments; for code and files, an object whose
    /// keys become globals of the run (`args` in the run's globals, as a dict).
    pub args: String,
    /// JSON object of keyword arguments (functions only); `{}` when none.
    pub kwargs: String,
    /// The named session whose globals persist between runs; `None`: fresh globals.
    pub session: Option<String>,
    /// The most bytes of stdout and of stderr kept.
    pub max_output: u64,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// The result as JSON text (`null` when the run gave none).
    Json(String),
    /// The result was `bytes`.
    Bytes(Vec<u8>),
    /// The script raised.
    Raised {
        /// The exception's type name (`ZeroDivisionError`).
        kind: String,
        /// `str()` of the exception.
        message: String,
        /// The formatted traceback.
        traceback: String,
    },
}

/// The answer to a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReply {
    /// The result or the exception.
    pub outcome: Outcome,
    /// What the run wrote to `sys.stdout`.
    pub stdout: String,
    /// What the run wrote to `sys.stderr`.
    pub stderr: String,
    /// Whether output beyond the limit was cut off.
    pub truncated: bool,
    /// Time spent running, in microseconds.
    pub duration_us: u64,
}

impl Source {
    /// The source as the prelude's `run` takes it: `(kind, first, second)` with kind `code`
    /// (code, file name), `file` (path, "") or `function` (module, function).
    pub fn parts(&self) -> (&str, &str, &str) {
        match self {
            Source::Code { code, filename } => ("code", code, filename),
            Source::File(path) => ("file", path, ""),
            Source::Function { module, function } => ("function", module, function),
        }
    }
}

/// A run as the prelude's `run` takes it: kind, first, second (see [`Source::parts`]), args,
/// kwargs, session, max_output.
pub type PreludeArgs<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, Option<&'a str>, u64);

impl RunRequest {
    /// This request as the prelude's `run` takes it.
    pub fn prelude_args(&self) -> PreludeArgs<'_> {
        let (kind, first, second) = self.source.parts();
        (kind, first, second, &self.args, &self.kwargs, self.session.as_deref(), self.max_output)
    }
}

impl RunReply {
    /// The reply from what the prelude answered: `kind` is `json`, `bytes` or `raised` (then
    /// `payload` is JSON with `kind`, `message` and `traceback`).
    pub fn from_prelude(
        kind: &str,
        payload: Vec<u8>,
        stdout: String,
        stderr: String,
        truncated: bool,
        duration_us: u64,
    ) -> Result<RunReply, String> {
        let outcome = match kind {
            "bytes" => Outcome::Bytes(payload),
            "json" => Outcome::Json(String::from_utf8_lossy(&payload).into_owned()),
            _ => {
                let raised: serde_json::Value = serde_json::from_slice(&payload).map_err(|e| e.to_string())?;
                let field = |name: &str| raised[name].as_str().unwrap_or_default().to_owned();
                Outcome::Raised { kind: field("kind"), message: field("message"), traceback: field("traceback") }
            }
        };
        Ok(RunReply { outcome, stdout, stderr, truncated, duration_us })
    }
}
