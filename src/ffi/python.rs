//! Pooled Python: run a script, a file or a function in the host's pool of Python worker
//! processes, and forget a named session. The pool is configured by `PlugHost.Python`; its
//! workers, queue and counters are in the health report's `python`.

use super::args;
use super::boundary::status;
use super::buffer::{self, plughost_buffer};
use super::host::{live, plughost_host};
use crate::error::{Error, ErrorKind};
use crate::python::PythonRun;

/// Run Python in the pool. `request` (UTF-8 JSON) holds exactly one of `code` (with an optional
/// `filename` for tracebacks), `file` (a path the worker reads), or `module` with `function`;
/// optionally `args` (for code and files, any JSON value the script sees as its global `args`;
/// for a function, an array of positional arguments), `kwargs` (a function's keyword arguments),
/// `session` (a name whose globals persist from run to run), `timeout_ms` (default the pool's
/// `TimeoutMs`; queueing included).
///
/// On success a new buffer in `out_json` holds the JSON answer: `result` (the value of the
/// code's last expression, or the function's return value, as JSON) or `result_base64` (when it
/// was `bytes`), `error` (`null`), `stdout`, `stderr`, `truncated`, `worker`, `duration_us`.
///
/// When the script raised, the status is `PYTHON_ERROR` and — unlike every other error —
/// `out_json` is written too, with `error` = {`type`, `message`, `traceback`} and the output;
/// the last error holds the traceback.
///
/// Other errors (nothing written): `INVALID_ARGUMENT` (a malformed request), `PYTHON_UNAVAILABLE`
/// (disabled, no worker program, no usable Python), `POOL_SATURATED` (every worker busy and
/// `QueueLimit` runs waiting), `TIMEOUT` (the worker was killed and is started again),
/// `PYTHON_MEMORY_LIMIT` (MemoryError under `MemoryLimitMb`; the worker is replaced),
/// `PYTHON_WORKER_CRASHED` (the worker ended during the run), `PYTHON_SESSION_LOST` (the
/// session's worker was replaced since its last run; the next run starts it afresh),
/// `HOST_STOPPED`.
///
/// # Safety
/// `host` from `plughost_host_new`; `request` valid for `request_len` bytes; `out_json` valid
/// for a write.
///
/// Threads: any, any number at once (runs beyond the workers wait in the queue); blocks until
/// the run ends. The first run starts the pool unless `Start` is `host-start`.
#[no_mangle]
pub unsafe extern "C" fn plughost_python_run(
    host: *const plughost_host,
    request: *const u8,
    request_len: usize,
    out_json: *mut plughost_buffer,
) -> i32 {
    status(|| {
        let out = args::out(out_json, "out_json")?;
        // SAFETY: the caller's contract.
        let (h, request) = unsafe { (live(host)?, args::name(request, request_len, "request")?) };
        let output = h.run_python(&PythonRun::from_json(request)?)?;
        let raised = output.result.as_ref().err().map(|e| e.traceback.clone());
        // SAFETY: checked out-pointer.
        unsafe { buffer::store_into(out, output.to_json().into_bytes())? };
        match raised {
            Some(traceback) => Err(Error::new(ErrorKind::PythonError, traceback)),
            None => Ok(()),
        }
    })
}

/// Forget the globals of the named Python session `name` (UTF-8); writes 1 to `out_existed` if
/// it existed, 0 if not.
///
/// Errors: `INVALID_ARGUMENT` (an empty name), `TIMEOUT` (its worker stayed busy past the pool's
/// `TimeoutMs`), `HOST_STOPPED`.
///
/// # Safety
/// `host` from `plughost_host_new`; `name` valid for `name_len` bytes; `out_existed` valid for a
/// write.
///
/// Threads: any; waits while a run of the session is on its worker.
#[no_mangle]
pub unsafe extern "C" fn plughost_python_drop_session(
    host: *const plughost_host,
    name: *const u8,
    name_len: usize,
    out_existed: *mut u32,
) -> i32 {
    status(|| {
        let out = args::out(out_existed, "out_existed")?;
        // SAFETY: the caller's contract.
        let (h, name) = unsafe { (live(host)?, args::name(name, name_len, "name")?) };
        let existed = h.drop_python_session(name)?;
        // SAFETY: checked out-pointer.
        unsafe { args::write(out, u32::from(existed)) };
        Ok(())
    })
}
