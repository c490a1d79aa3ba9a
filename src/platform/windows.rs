//! Windows: LoadLibraryExW through libloading, `GetModuleHandleExW` to see whether a DLL is still
//! loaded, `OpenProcess` for liveness, `K32GetProcessMemoryInfo` for RSS.
//!
//! Verified only by reading: this project cannot build for Windows in its CI.

use super::{ProcessFigures, ProcessUsage};
use std::os::windows::ffi::OsStrExt;
use std::path::Path;
use windows_sys::Win32::Foundation::{CloseHandle, HMODULE};
use windows_sys::Win32::System::LibraryLoader::{
    GetModuleFileNameW, GetModuleHandleExW, GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS,
    GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
};
use windows_sys::Win32::System::ProcessStatus::{K32GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION};

fn wide(path: &Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain(std::iter::once(0)).collect()
}

/// Open a DLL (LoadLibraryExW with default search flags).
pub fn open_library(path: &Path) -> Result<libloading::Library, String> {
    // SAFETY: loading runs DllMain; the caller loads only files it copied from a trusted root.
    unsafe { libloading::Library::new(path) }.map_err(|e| e.to_string())
}

/// `LoadLibraryExW` fails cleanly on truncated images, so no pre-check is needed.
pub fn check_image(_path: &Path) -> Result<(), String> {
    Ok(())
}

/// Whether the DLL at `path` is still loaded in this process.
pub fn is_mapped(path: &Path) -> Option<bool> {
    let name = wide(path);
    let mut module: HMODULE = std::ptr::null_mut();
    // SAFETY: `name` is a NUL-terminated wide string; UNCHANGED_REFCOUNT takes no reference.
    let found = unsafe { GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT, name.as_ptr(), &mut module) };
    Some(found != 0)
}

/// Whether a process with this id exists.
pub fn pid_alive(pid: u32) -> bool {
    // SAFETY: OpenProcess with query rights only; the handle is closed at once.
    unsafe {
        let handle = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
        if handle.is_null() {
            return false;
        }
        CloseHandle(handle);
        true
    }
}

/// RSS from the process memory counters; thread and handle counts are not collected here.
pub fn process_figures() -> ProcessFigures {
    // SAFETY: zeroed counters with cb set, for the current-process pseudo handle.
    let rss = unsafe {
        let mut counters: PROCESS_MEMORY_COUNTERS = std::mem::zeroed();
        counters.cb = std::mem::size_of::<PROCESS_MEMORY_COUNTERS>() as u32;
        if K32GetProcessMemoryInfo(GetCurrentProcess(), &mut counters, counters.cb) != 0 {
            Some(counters.WorkingSetSize as u64)
        } else {
            None
        }
    };
    ProcessFigures { rss_bytes: rss, ..ProcessFigures::default() }
}

/// Not collected on this platform yet (a plugin's CPU and memory figures are Linux-only).
pub fn process_usage(_pid: u32) -> ProcessUsage {
    ProcessUsage::default()
}

/// The file of the DLL (or program) this code was loaded from.
pub fn own_image_path() -> Option<std::path::PathBuf> {
    use std::os::windows::ffi::OsStringExt;
    let mut module: HMODULE = std::ptr::null_mut();
    let address = own_image_path as *const u16;
    let flags = GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT;
    // SAFETY: with FROM_ADDRESS the name argument is an address inside this module; no reference
    // is taken, and `module` is writable.
    if unsafe { GetModuleHandleExW(flags, address, &mut module) } == 0 {
        return None;
    }
    let mut buffer = vec![0u16; 32_768];
    // SAFETY: `buffer` is writable for the length given; the call writes at most that many units.
    let len = unsafe { GetModuleFileNameW(module, buffer.as_mut_ptr(), buffer.len() as u32) } as usize;
    (len > 0 && len < buffer.len()).then(|| std::ffi::OsString::from_wide(&buffer[..len]).into())
}
