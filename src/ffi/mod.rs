//! The C ABI. This folder is the only place with `extern "C"`; it holds no logic beyond
//! converting and checking arguments and results.
//!
//! - [`module_abi`], [`module_sdk`]: the work-module ABI (tables exchanged with modules) and the
//!   Rust SDK's shims. Always built, so that modules can depend on plughost without the host.
//! - `host_table`: the host side of the module ABI (the services table given to modules).
//! - The exported `plughost_*` functions (feature `ffi`), one file per handle family: `version`,
//!   `last_error`, `host`, `module`, `service`, `storage`, `event`, `buffer`, `session` (IPC
//!   sessions, both peers; its handles use `handle`'s tombstones), `plugin` (out-of-process
//!   plugins, the host's side), `plugin_side` (writing an out-of-process plugin:
//!   `plughost_plugin_run` and the host services), `python` (the Python pool), `extension`
//!   (extensions and packages). Each export runs its
//!   body through [`boundary`](self) helpers that catch panics and record the last error.
//!
//! Conventions (see README "C API conventions"): the object first, then inputs, then outputs; a
//! buffer is followed by its length; outputs are written only on success; every fallible call
//! returns an `int32_t` status from `status.rs`; strings are UTF-8 pointer + length; memory
//! plughost allocates is freed by plughost.

#![allow(non_camel_case_types)] // C type names (plughost_host, plughost_buffer) keep C style.

pub mod module_abi;
pub mod module_sdk;

#[cfg(feature = "host")]
pub mod host_table;

#[cfg(feature = "ffi")]
mod args;
#[cfg(feature = "ffi")]
mod boundary;
#[cfg(feature = "ffi")]
pub mod buffer;
#[cfg(feature = "ffi")]
pub mod event;
#[cfg(feature = "ffi")]
pub mod extension;
#[cfg(feature = "ffi")]
mod handle;
#[cfg(feature = "ffi")]
pub mod host;
#[cfg(feature = "ffi")]
mod host_cache;
#[cfg(feature = "ffi")]
pub mod last_error;
#[cfg(feature = "ffi")]
pub mod module;
#[cfg(feature = "ffi")]
pub mod plugin;
#[cfg(feature = "ffi")]
pub mod plugin_side;
#[cfg(feature = "ffi")]
pub mod python;
#[cfg(feature = "ffi")]
pub mod service;
#[cfg(feature = "ffi")]
pub mod session;
#[cfg(feature = "ffi")]
pub mod storage;
#[cfg(feature = "ffi")]
mod user_data;
#[cfg(feature = "ffi")]
pub mod version;

#[cfg(all(test, feature = "ffi"))]
mod tests {
    /// The checked-in header must equal what the pinned cbindgen generates from this source.
    #[test]
    fn header_is_current() {
        let generated = include_str!(concat!(env!("OUT_DIR"), "/plughost.h"));
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/include/plughost.h");
        let checked_in = std::fs::read_to_string(path).expect("include/plughost.h exists");
        assert!(
            generated == checked_in,
            "include/plughost.h differs from the generated header: run `PLUGHOST_BLESS=1 cargo build` and commit it"
        );
    }

    const CSHARP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/csharp/PlugHost/NativeMethods.g.cs");

    /// The checked-in C# raw layer must equal what the pinned csbindgen generates from this source.
    #[test]
    fn csharp_is_current() {
        let generated = include_str!(concat!(env!("OUT_DIR"), "/NativeMethods.g.cs"));
        let checked_in = std::fs::read_to_string(CSHARP).expect("csharp/PlugHost/NativeMethods.g.cs exists");
        assert!(
            generated == checked_in,
            "csharp/PlugHost/NativeMethods.g.cs differs from the generated one: run `PLUGHOST_BLESS=1 cargo build` and commit it"
        );
    }

    /// csbindgen skips what it cannot translate without failing: every function of the header must
    /// have its `[DllImport]` in the C# layer.
    #[test]
    fn csharp_declares_every_header_function() {
        let header = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/include/plughost.h"));
        let csharp = std::fs::read_to_string(CSHARP).expect("csharp/PlugHost/NativeMethods.g.cs exists");
        let functions: Vec<&str> = header
            .lines()
            .filter(|line| !line.starts_with(' ') && !line.starts_with("typedef") && line.ends_with(");"))
            .filter_map(|line| line.split('(').next()?.rsplit([' ', '*']).next())
            .collect();
        assert!(
            functions.len() >= 25 && functions.iter().all(|f| f.starts_with("plughost_")),
            "the header's functions were not parsed: {functions:?}"
        );
        let missing: Vec<&&str> = functions
            .iter()
            .filter(|name| {
                !csharp.contains(&format!("EntryPoint = \"{name}\"")) || !csharp.contains(&format!(" {name}("))
            })
            .collect();
        assert!(missing.is_empty(), "functions of include/plughost.h missing from NativeMethods.g.cs: {missing:?}");
    }
}
