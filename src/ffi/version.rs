//! Versions and status names.

use crate::error::ErrorKind;
use std::ffi::c_char;

/// The C ABI version of this library; compare it with `PLUGHOST_ABI_VERSION` from the header and
/// refuse to run on a mismatch.
///
/// Threads: any.
#[no_mangle]
pub extern "C" fn plughost_abi_version() -> u32 {
    crate::PLUGHOST_ABI_VERSION
}

/// The library version (for example "0.1.0"), a static NUL-terminated UTF-8 string. Never freed.
///
/// Threads: any.
#[no_mangle]
pub extern "C" fn plughost_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The name of a status code as in this header (for example "PLUGHOST_ERR_TIMEOUT"), or
/// "PLUGHOST_OK", or "PLUGHOST_ERR_UNKNOWN" for a number this library does not know. A static
/// NUL-terminated string; never freed.
///
/// Threads: any.
#[no_mangle]
pub extern "C" fn plughost_status_name(status: i32) -> *const c_char {
    let name: &'static str = match ErrorKind::from_code(status) {
        _ if status == crate::status::PLUGHOST_OK => "PLUGHOST_OK\0",
        Some(kind) => kind.c_name(),
        None => "PLUGHOST_ERR_UNKNOWN\0",
    };
    name.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn name(status: i32) -> String {
        // SAFETY: plughost_status_name returns static NUL-terminated strings.
        unsafe { CStr::from_ptr(plughost_status_name(status)) }.to_str().unwrap().to_owned()
    }

    #[test]
    fn every_status_has_its_header_name() {
        for kind in ErrorKind::ALL {
            assert_eq!(name(kind.code()), kind.name());
        }
        assert_eq!(name(0), "PLUGHOST_OK");
        assert_eq!(name(-7), "PLUGHOST_ERR_UNKNOWN");
        assert_eq!(plughost_abi_version(), crate::PLUGHOST_ABI_VERSION);
        // SAFETY: static string.
        assert_eq!(unsafe { CStr::from_ptr(plughost_version()) }.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
