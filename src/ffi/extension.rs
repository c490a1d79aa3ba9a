//! Extensions and packages: the host's discovered extensions, rescanning, installing a package,
//! and validating a package without a host.

use super::args;
use super::boundary::status;
use super::buffer::{self, plughost_buffer};
use super::host::{host_text, live, plughost_host};
use crate::config::ExtensionsConfig;
use crate::extensions::package;
use crate::host::Host;
use std::path::Path;

/// Write the host's extensions as UTF-8 JSON into a new buffer: `{"order": [names in load order],
/// "extensions": [{"name", "version", "kind" ("module" | "python" | "plugin"), "entry" (full path),
/// "manifest", "description", "dependencies", "state" ("loaded" | "ready" | "plugin" |
/// "restart-needed" | "blocked" | "failed"), "problems", "module_id" (a loaded module extension's
/// id, else null)}], "problems": [every problem, each with its manifest's path]}`. The caller frees
/// the buffer with `plughost_buffer_free`.
///
/// # Safety
/// `host` from `plughost_host_new`; `out_json` valid for a write.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_host_extensions_json(
    host: *const plughost_host,
    out_json: *mut plughost_buffer,
) -> i32 {
    // SAFETY: the caller's contract, forwarded.
    unsafe { host_text(host, out_json, Host::extensions_json) }
}

/// Scan the extension search paths and the store again now: new module extensions are loaded (in
/// dependency order), removed, changed or newly blocked ones unloaded, and the changes published on
/// the event bus (source `"host"`, JSON): `plughost.extension.added` `{"name", "version", "kind", "module_id"}`,
/// `plughost.extension.removed` `{"name", "kind"}`, `plughost.extension.failed` `{"name",
/// "problems"}`. `PlugHost.Extensions.Watch` does this by itself after a change; event callbacks
/// run on the calling thread (or on plughost's watcher thread).
///
/// Errors: `HOST_STOPPED`.
///
/// # Safety
/// `host` from `plughost_host_new`.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_host_rescan_extensions(host: *const plughost_host) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        unsafe { live(host)? }.rescan_extensions().map(|_| ())
    })
}

/// Install the package (`.plpkg`) at `path` (UTF-8) into `PlugHost.Extensions.StoreDirectory`:
/// it is validated against the host's `TrustedKeys`, `AllowUnsigned` and limits, extracted into a
/// temporary folder of the store and renamed into place (replacing an installed version), then the
/// extensions are rescanned as by `plughost_host_rescan_extensions`.
///
/// Errors: `INVALID_ARGUMENT` when the package is invalid (the last error lists every problem),
/// `INVALID_CONFIG` when no store is configured, `IO`, `HOST_STOPPED`.
///
/// # Safety
/// `host` from `plughost_host_new`; `path` valid for `path_len` bytes.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_host_install_package(
    host: *const plughost_host,
    path: *const u8,
    path_len: usize,
) -> i32 {
    status(|| {
        // SAFETY: the caller's contract.
        let (h, path) = unsafe { (live(host)?, args::name(path, path_len, "path")?) };
        h.install_package(Path::new(path)).map(|_| ())
    })
}

/// Validate the package at `path` (UTF-8) without a host, and write the report as UTF-8 JSON into a
/// new buffer: `{"valid", "name", "version", "kind", "signer" (the trusted key's name or null),
/// "problems": [...], "warnings": [...]}`. Every problem is reported at once: an unreadable or
/// invalid zip, paths that leave the package, symbolic links, size and count limits, a missing or
/// invalid manifest, a missing entry, no signature (while unsigned packages are not allowed), a
/// signature that does not verify, files changed, added or removed after signing, an untrusted key.
/// An invalid package is not an error of this call: the status is `PLUGHOST_OK` and `valid` false.
///
/// `options` (may be NULL or empty for the defaults) is the JSON of a `PlugHost.Extensions` object:
/// `TrustedKeys` (`[{"Name", "PublicKey"}]`, base64 ed25519 keys), `AllowUnsigned` (default true),
/// `MaxPackageBytes`, `MaxPackageFiles`. The caller frees the buffer with `plughost_buffer_free`.
///
/// Errors: `INVALID_CONFIG` for bad options (every problem listed), `NULL_ARGUMENT`,
/// `INVALID_UTF8`, `INVALID_ARGUMENT` (an empty path).
///
/// # Safety
/// `path` valid for `path_len` bytes; `options` NULL or valid for `options_len` bytes; `out_json`
/// valid for a write.
///
/// Threads: any.
#[no_mangle]
pub unsafe extern "C" fn plughost_package_validate(
    path: *const u8,
    path_len: usize,
    options: *const u8,
    options_len: usize,
    out_json: *mut plughost_buffer,
) -> i32 {
    status(|| {
        let out = args::out(out_json, "out_json")?;
        // SAFETY: the caller's contract.
        let (path, options) =
            unsafe { (args::name(path, path_len, "path")?, args::text(options, options_len, "options")?) };
        let config = ExtensionsConfig::from_json(options)?;
        let report = package::validate(Path::new(path), &config);
        let json = serde_json::to_vec_pretty(&report).expect("a report serialises");
        // SAFETY: checked out-pointer.
        unsafe { buffer::store_into(out, json) }
    })
}
