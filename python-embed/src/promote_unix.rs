//! Unix: make the libpython this process loaded for us visible to C extension modules.
//!
//! A library loaded with `RTLD_LOCAL` (what most non-Python hosts do with plughost) brings its
//! libpython in local too, and extension modules such as `_ctypes` or `_decimal`, which do not
//! link libpython themselves, then fail with "undefined symbol: PyTuple_Type". Opening the same
//! file again with `RTLD_GLOBAL | RTLD_NOLOAD` promotes it to the global scope.

use std::ffi::CStr;

/// Promote the loaded libpython (the file that holds `Py_IsInitialized`) to `RTLD_GLOBAL`; the
/// path promoted, or why not.
pub fn promote_libpython() -> Result<String, String> {
    // SAFETY: dladdr reads the address of a function of the loaded libpython (or of the
    // executable that has CPython linked in) and fills `info`, which lives on this stack.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let address = pyo3::ffi::Py_IsInitialized as *const libc::c_void;
    // SAFETY: as above; `address` is a valid function address.
    if unsafe { libc::dladdr(address, &mut info) } == 0 || info.dli_fname.is_null() {
        return Err("the file holding Py_IsInitialized was not found".into());
    }
    // SAFETY: dli_fname is a NUL-terminated path owned by the loader, valid while the file stays
    // loaded (for the process's life: it holds the code we run).
    let path = unsafe { CStr::from_ptr(info.dli_fname) };
    // SAFETY: RTLD_NOLOAD only raises the flags of an already loaded file; it runs no
    // initialisers. The handle is kept (never closed): the file stays loaded anyway.
    let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL | libc::RTLD_NOLOAD) };
    let shown = path.to_string_lossy().into_owned();
    if handle.is_null() {
        return Err(format!("{shown} could not be opened again with RTLD_GLOBAL"));
    }
    Ok(shown)
}
