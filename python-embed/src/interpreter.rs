//! The one interpreter of the process: started once, never finalised (extension modules break
//! when CPython is initialised again), and checked to be the version this crate was built for.
//!
//! When CPython is already running in the process (the embedding application is Python, or
//! another add-in started its own), that interpreter is used if its version matches and refused
//! otherwise; [`Started::shared`] tells the caller so it can warn that `sys.path`, `sys.modules`
//! and `sys.stdout` are shared.

use std::ffi::CStr;
use std::sync::OnceLock;

/// The Python version this crate was built for (`major.minor`).
pub const BUILD_VERSION: &str = env!("PLUGHOST_PYTHON_BUILD_VERSION");

/// The interpreter as it was found and started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Started {
    /// The running Python's version, `major.minor.patch`.
    pub version: String,
    /// Whether CPython was already initialised by someone else in this process.
    pub shared: bool,
    /// On Unix, the libpython promoted to `RTLD_GLOBAL`, or why it was not.
    pub promoted: Result<String, String>,
}

static STARTED: OnceLock<Result<Started, String>> = OnceLock::new();

/// The version of the libpython this process bound to, `major.minor.patch`. Callable before
/// the interpreter starts.
fn loaded_version() -> String {
    // SAFETY: Py_GetVersion returns a static NUL-terminated string and may be called at any
    // time, before initialisation included.
    let text = unsafe { CStr::from_ptr(pyo3::ffi::Py_GetVersion()) };
    text.to_string_lossy().split_whitespace().next().unwrap_or_default().to_owned()
}

/// Refuse a libpython of another `major.minor` than [`BUILD_VERSION`].
fn check_version(version: &str, shared: bool) -> Result<(), String> {
    let major_minor: Vec<&str> = version.split('.').take(2).collect();
    if major_minor.join(".") == BUILD_VERSION {
        return Ok(());
    }
    Err(if shared {
        format!("a CPython {version} is already initialised in this process, but plughost was built for Python {BUILD_VERSION}; one process holds one CPython, so Python cannot run in-process here (use the isolated mode)")
    } else {
        format!("plughost was built for Python {BUILD_VERSION} but Python {version} was loaded")
    })
}

/// Start the interpreter once per process (later calls return the first answer): check the
/// loaded version, promote libpython to `RTLD_GLOBAL` on Unix, initialise CPython unless it
/// already runs.
pub fn start() -> Result<Started, String> {
    STARTED
        .get_or_init(|| {
            // SAFETY: Py_IsInitialized only reads a flag of the runtime; it needs no GIL.
            let shared = unsafe { pyo3::ffi::Py_IsInitialized() } != 0;
            let version = loaded_version();
            check_version(&version, shared)?;
            #[cfg(unix)]
            let promoted = crate::promote_unix::promote_libpython();
            #[cfg(not(unix))]
            let promoted = Err("not needed: extension modules link the Python DLL by name".to_owned());
            pyo3::Python::initialize();
            Ok(Started { version, shared, promoted })
        })
        .clone()
}

#[cfg(test)]
mod tests {
    #[test]
    fn another_version_is_refused_with_the_reason() {
        let other = if super::BUILD_VERSION == "3.99" { "3.98.0" } else { "3.99.1" };
        let e = super::check_version(other, true).unwrap_err();
        assert!(e.contains("already initialised") && e.contains(super::BUILD_VERSION), "{e}");
        assert!(super::check_version(other, false).unwrap_err().contains("was loaded"));
        assert!(super::check_version(&format!("{}.0", super::BUILD_VERSION), true).is_ok());
    }
}
