//! One run of Python: what to run ([`PythonRun`], also read from the JSON request of
//! `plughost_python_run`) and what came of it ([`PythonOutput`], also written as the JSON answer).

use super::protocol::{Outcome, RunReply, RunRequest, Source};
use crate::error::{Error, ErrorKind, Result};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// The keys of a JSON run request.
const REQUEST_KEYS: &[&str] =
    &["code", "filename", "file", "module", "function", "args", "kwargs", "session", "timeout_ms"];

/// What to run, with what, where, for how long.
#[derive(Clone, Debug, PartialEq)]
pub struct PythonRun {
    /// Code, a file, or a function.
    pub source: Source,
    /// For code and files: a JSON value the script sees as its global `args` (`None` by default).
    /// For a function: a JSON array of positional arguments.
    pub args: Value,
    /// For a function: a JSON object of keyword arguments.
    pub kwargs: Value,
    /// The named session whose globals persist from run to run; `None`: fresh globals.
    pub session: Option<String>,
    /// The deadline of the run, queueing included; `None`: the pool's `TimeoutMs`.
    pub timeout: Option<Duration>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

impl PythonRun {
    fn new(source: Source, args: Value) -> PythonRun {
        PythonRun { source, args, kwargs: json!({}), session: None, timeout: None }
    }

    /// Run Python source text; its value is that of its last statement when that is an
    /// expression, else `None`.
    pub fn code(code: impl Into<String>) -> PythonRun {
        PythonRun::new(Source::Code { code: code.into(), filename: "<string>".into() }, Value::Null)
    }

    /// Run a file of Python source (read by the worker).
    pub fn file(path: impl Into<String>) -> PythonRun {
        PythonRun::new(Source::File(path.into()), Value::Null)
    }

    /// Call `function` of the importable `module`.
    pub fn function(module: impl Into<String>, function: impl Into<String>) -> PythonRun {
        PythonRun::new(Source::Function { module: module.into(), function: function.into() }, json!([]))
    }

    /// With these arguments (see [`PythonRun::args`]).
    pub fn with_args(mut self, args: Value) -> PythonRun {
        self.args = args;
        self
    }

    /// With these keyword arguments (functions only).
    pub fn with_kwargs(mut self, kwargs: Value) -> PythonRun {
        self.kwargs = kwargs;
        self
    }

    /// In the named session.
    pub fn in_session(mut self, name: impl Into<String>) -> PythonRun {
        self.session = Some(name.into());
        self
    }

    /// With this deadline.
    pub fn with_timeout(mut self, timeout: Duration) -> PythonRun {
        self.timeout = Some(timeout);
        self
    }

    /// Check the request before it is sent: a function's arguments must be an array and its
    /// keyword arguments an object; keyword arguments need a function; a session name is 1 to
    /// 128 bytes.
    pub fn validate(&self) -> Result<()> {
        let function = matches!(self.source, Source::Function { .. });
        if function && !self.args.is_array() {
            return Err(invalid("the arguments of a function must be a JSON array"));
        }
        if !self.kwargs.is_object() {
            return Err(invalid("the keyword arguments must be a JSON object"));
        }
        if !function && self.kwargs.as_object().is_some_and(|o| !o.is_empty()) {
            return Err(invalid("keyword arguments are for functions; code and files take args"));
        }
        match &self.source {
            Source::Function { module, function } if module.is_empty() || function.is_empty() => {
                return Err(invalid("a function run needs a module and a function name"))
            }
            Source::File(path) if path.is_empty() => return Err(invalid("a file run needs a path")),
            _ => {}
        }
        if let Some(name) = &self.session {
            if name.is_empty() || name.len() > 128 {
                return Err(invalid("a session name is 1 to 128 bytes"));
            }
        }
        Ok(())
    }

    /// The request a worker (or the in-process pool) runs, keeping `max_output` characters of
    /// each stream.
    pub fn request(&self, max_output: u64) -> RunRequest {
        RunRequest {
            source: self.source.clone(),
            args: self.args.to_string(),
            kwargs: self.kwargs.to_string(),
            session: self.session.clone(),
            max_output,
        }
    }

    /// Read a JSON request: exactly one of `code` (with an optional `filename`), `file`, or
    /// `module` with `function`; optional `args`, `kwargs`, `session`, `timeout_ms`.
    pub fn from_json(text: &str) -> Result<PythonRun> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| invalid(format!("the run request is not JSON: {e}")))?;
        let o = value.as_object().ok_or_else(|| invalid("the run request must be a JSON object"))?;
        if let Some(key) = o.keys().find(|k| !REQUEST_KEYS.contains(&k.as_str())) {
            return Err(invalid(format!(
                "unknown key \"{key}\" in the run request; known: {}",
                REQUEST_KEYS.join(", ")
            )));
        }
        let text_of = |key: &str| -> Result<Option<String>> {
            match o.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(invalid(format!("\"{key}\" must be a string"))),
            }
        };
        let (code, file, module, function) =
            (text_of("code")?, text_of("file")?, text_of("module")?, text_of("function")?);
        let filename = text_of("filename")?;
        let mut run = match (code, file, module, function) {
            (Some(code), None, None, None) => {
                let mut run = PythonRun::code(code);
                if let (Some(name), Source::Code { filename, .. }) = (filename, &mut run.source) {
                    *filename = name;
                }
                run
            }
            (None, Some(file), None, None) if filename.is_none() => PythonRun::file(file),
            (None, None, Some(module), Some(function)) if filename.is_none() => PythonRun::function(module, function),
            _ => {
                return Err(invalid(
                    "the run request needs exactly one of \"code\" (with an optional \"filename\"), \"file\", or \"module\" with \"function\"",
                ))
            }
        };
        if let Some(args) = o.get("args") {
            run.args = args.clone();
        }
        if let Some(kwargs) = o.get("kwargs") {
            run.kwargs = kwargs.clone();
        }
        run.session = text_of("session")?;
        run.timeout = match o.get("timeout_ms") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_u64() {
                Some(ms) if ms > 0 => Some(Duration::from_millis(ms)),
                _ => return Err(invalid("\"timeout_ms\" must be a positive integer")),
            },
        };
        run.validate()?;
        Ok(run)
    }
}

/// A run's result.
#[derive(Clone, Debug, PartialEq)]
pub enum PythonValue {
    /// JSON-compatible data (`null` when the run gave no value).
    Json(Value),
    /// `bytes`.
    Bytes(Vec<u8>),
}

/// The exception a script raised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PythonException {
    /// Its type's name, such as `ZeroDivisionError`.
    pub kind: String,
    /// `str()` of it.
    pub message: String,
    /// The formatted traceback.
    pub traceback: String,
}

/// What came of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct PythonOutput {
    /// The value, or the exception the script raised.
    pub result: std::result::Result<PythonValue, PythonException>,
    /// What it wrote to `sys.stdout`.
    pub stdout: String,
    /// What it wrote to `sys.stderr`.
    pub stderr: String,
    /// Whether output beyond `MaxOutputChars` was cut off.
    pub truncated: bool,
    /// The worker that ran it (0-based).
    pub worker: usize,
    /// Time spent in the worker.
    pub duration: Duration,
}

impl PythonOutput {
    /// Build from a worker's reply.
    pub(crate) fn from_reply(reply: RunReply, worker: usize) -> Result<PythonOutput> {
        let result = match reply.outcome {
            Outcome::Json(text) => Ok(PythonValue::Json(serde_json::from_str(&text).map_err(|e| {
                Error::new(ErrorKind::PythonError, format!("the worker answered a result that is not JSON: {e}"))
            })?)),
            Outcome::Bytes(bytes) => Ok(PythonValue::Bytes(bytes)),
            Outcome::Raised { kind, message, traceback } => Err(PythonException { kind, message, traceback }),
        };
        Ok(PythonOutput {
            result,
            stdout: reply.stdout,
            stderr: reply.stderr,
            truncated: reply.truncated,
            worker,
            duration: Duration::from_micros(reply.duration_us),
        })
    }

    /// The value, or the script's exception as `PLUGHOST_ERR_PYTHON_ERROR` with its traceback.
    pub fn into_value(self) -> Result<PythonValue> {
        self.result.map_err(|e| Error::new(ErrorKind::PythonError, e.traceback))
    }

    /// The JSON answer of `plughost_python_run`: `result` (JSON data) or `result_base64`
    /// (bytes), `error` (`type`, `message`, `traceback`, or `null`), `stdout`, `stderr`,
    /// `truncated`, `worker`, `duration_us`.
    pub fn to_json(&self) -> String {
        let mut o = Map::new();
        match &self.result {
            Ok(PythonValue::Json(value)) => {
                o.insert("result".into(), value.clone());
                o.insert("error".into(), Value::Null);
            }
            Ok(PythonValue::Bytes(bytes)) => {
                o.insert(
                    "result_base64".into(),
                    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
                );
                o.insert("error".into(), Value::Null);
            }
            Err(e) => {
                o.insert("error".into(), json!({"type": e.kind, "message": e.message, "traceback": e.traceback}));
            }
        }
        o.insert("stdout".into(), Value::String(self.stdout.clone()));
        o.insert("stderr".into(), Value::String(self.stderr.clone()));
        o.insert("truncated".into(), Value::Bool(self.truncated));
        o.insert("worker".into(), json!(self.worker));
        o.insert("duration_us".into(), json!(self.duration.as_micros() as u64));
        Value::Object(o).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_read_and_every_mistake_is_named() {
        let run = PythonRun::from_json(
            r#"{"code": "1+1", "filename": "f.py", "args": {"a": 1}, "session": "s", "timeout_ms": 5}"#,
        )
        .unwrap();
        assert_eq!(run.source, Source::Code { code: "1+1".into(), filename: "f.py".into() });
        assert_eq!(
            (run.args, run.session.as_deref(), run.timeout),
            (json!({"a": 1}), Some("s"), Some(Duration::from_millis(5)))
        );
        let run = PythonRun::from_json(r#"{"module": "m", "function": "f", "args": [1], "kwargs": {"k": 2}}"#).unwrap();
        assert_eq!(run.source, Source::Function { module: "m".into(), function: "f".into() });
        for (request, expected) in [
            ("[]", "must be a JSON object"),
            ("{", "not JSON"),
            (r#"{"code": "1", "file": "x"}"#, "exactly one of"),
            (r#"{"module": "m"}"#, "exactly one of"),
            (r#"{"code": 1}"#, "\"code\" must be a string"),
            (r#"{"code": "1", "colour": 1}"#, "unknown key \"colour\""),
            (r#"{"code": "1", "timeout_ms": 0}"#, "positive integer"),
            (r#"{"module": "m", "function": "f", "args": {}}"#, "must be a JSON array"),
            (r#"{"code": "1", "kwargs": {"a": 1}}"#, "keyword arguments are for functions"),
            (r#"{"code": "1", "session": ""}"#, "session name"),
        ] {
            let e = PythonRun::from_json(request).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert!(e.message().contains(expected), "{request}: {}", e.message());
        }
    }

    #[test]
    fn the_json_answer_carries_value_bytes_or_exception() {
        let output = |result| PythonOutput {
            result,
            stdout: "o".into(),
            stderr: String::new(),
            truncated: false,
            worker: 1,
            duration: Duration::from_micros(7),
        };
        let v: Value = serde_json::from_str(&output(Ok(PythonValue::Json(json!([1])))).to_json()).unwrap();
        assert_eq!(
            (v["result"].clone(), v["error"].clone(), v["stdout"].clone()),
            (json!([1]), Value::Null, json!("o"))
        );
        let v: Value = serde_json::from_str(&output(Ok(PythonValue::Bytes(b"foo".to_vec()))).to_json()).unwrap();
        assert_eq!(v["result_base64"], "Zm9v");
        let raised = PythonException { kind: "E".into(), message: "m".into(), traceback: "t".into() };
        let v: Value = serde_json::from_str(&output(Err(raised)).to_json()).unwrap();
        assert_eq!(v["error"], json!({"type": "E", "message": "m", "traceback": "t"}));
        assert!(v.get("result").is_none());
    }
}
