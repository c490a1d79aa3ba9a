//! Generates the C header and the raw C# layer from src/ (feature `ffi`), and with feature
//! `python-inprocess` gives the library, tests and benchmarks a run path to libpython's folder.
//!
//! - The header, with the pinned cbindgen, to `$OUT_DIR/plughost.h`; the `header_is_current` test
//!   compares it with the checked-in `include/plughost.h`.
//! - The C# P/Invoke declarations, with the pinned csbindgen in compatibility mode (named delegates,
//!   `IntPtr`/`UIntPtr`: C# 7.2, so net48 and mono's mcs compile it), from the same `extern "C"`
//!   files (`src/ffi/*.rs` with `#[no_mangle]`, plus definition-only inputs for an alias and the
//!   `PLUGHOST_*` constants), to `$OUT_DIR/NativeMethods.g.cs`; the
//!   `csharp_is_current` test compares it with the checked-in `csharp/PlugHost/NativeMethods.g.cs`.
//!
//! Set `PLUGHOST_BLESS=1` to write the checked-in copies.

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=PLUGHOST_BLESS");
    #[cfg(feature = "ffi")]
    generate_header();
    #[cfg(feature = "ffi")]
    generate_csharp();
    #[cfg(feature = "python-inprocess")]
    python_run_path();
}

/// A run path to the folder of the libpython found at build time (pyenv and other non-system
/// installations are not on the loader's default path).
#[cfg(feature = "python-inprocess")]
fn python_run_path() {
    let config = pyo3_build_config::get();
    if let Some(dir) = config.lib_dir() {
        if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}

#[cfg(feature = "ffi")]
fn bless() -> bool {
    std::env::var_os("PLUGHOST_BLESS").is_some_and(|v| v == "1")
}

/// `PLUGHOST_VERSION*` macros from Cargo.toml, so the header can never disagree with the crate.
#[cfg(feature = "ffi")]
fn version_macros() -> String {
    let v = |name: &str| std::env::var(name).expect("cargo sets the version variables");
    format!(
        "\n/** This header's library version; compare with plughost_version(). */\n\
         #define PLUGHOST_VERSION \"{}\"\n\
         #define PLUGHOST_VERSION_MAJOR {}\n#define PLUGHOST_VERSION_MINOR {}\n#define PLUGHOST_VERSION_PATCH {}\n",
        v("CARGO_PKG_VERSION"),
        v("CARGO_PKG_VERSION_MAJOR"),
        v("CARGO_PKG_VERSION_MINOR"),
        v("CARGO_PKG_VERSION_PATCH")
    )
}

#[cfg(feature = "ffi")]
fn generate_header() {
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let config = cbindgen::Config::from_file(format!("{crate_dir}/cbindgen.toml")).expect("cbindgen.toml is valid");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .with_after_include(version_macros())
        .generate()
        .expect("cbindgen generates the header");
    bindings.write_to_file(format!("{out_dir}/plughost.h"));
    if bless() {
        bindings.write_to_file(format!("{crate_dir}/include/plughost.h"));
    }
}

/// The file name (without prefix and extension) the C# layer imports: versioned, because the CLR
/// never unloads a native library and Windows hands out an already loaded DLL by its base name, so
/// two add-ins shipping different plughost builds must not share one name.
#[cfg(feature = "ffi")]
fn csharp_library_name() -> String {
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    let version: String = version.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    format!("plughost_{version}")
}

#[cfg(feature = "ffi")]
fn generate_csharp() {
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    // The exported functions: every file of src/ffi with `#[no_mangle]` (csbindgen reads every
    // `extern "C" fn` of a file it is given, so files with internal extern fns stay out).
    let mut exports: Vec<std::path::PathBuf> = std::fs::read_dir(format!("{crate_dir}/src/ffi"))
        .expect("src/ffi exists")
        .map(|entry| entry.expect("src/ffi is readable").path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .filter(|path| std::fs::read_to_string(path).expect("readable source").contains("#[no_mangle]"))
        .collect();
    exports.sort();
    let mut builder = csbindgen::Builder::default();
    for path in &exports {
        builder = builder.input_extern_file(path);
    }
    builder
        // Definitions only: the type alias `plughost_destroy_callback`, the status numbers and
        // `PLUGHOST_ABI_VERSION` (these files declare no extern fn).
        .input_extern_file(format!("{crate_dir}/src/ffi/user_data.rs"))
        .input_extern_file(format!("{crate_dir}/src/status.rs"))
        .input_extern_file(format!("{crate_dir}/src/lib.rs"))
        .csharp_generate_const_filter(|name| name.starts_with("PLUGHOST_"))
        .csharp_dll_name(csharp_library_name())
        .csharp_namespace("PlugHost.Native")
        .csharp_class_name("NativeMethods")
        .csharp_use_function_pointer(false)
        .csharp_use_nint_types(false)
        // The service callback's output object is `plughost_output` in the header, as here; it is
        // opaque and defined in src/ffi/host_table.rs, which is no input (it has internal extern fns).
        .csharp_type_rename(|name| if name == "OutputSink" { "plughost_output".into() } else { name })
        .csharp_file_header(
            "// The raw plughost C API for C#. Generated by csbindgen (pinned in Cargo.toml) from src/ffi in\n\
             // build.rs; do not edit by hand. Regenerate with: PLUGHOST_BLESS=1 cargo build",
        )
        .csharp_file_footer(
            "namespace PlugHost.Native\n{\n    /// <summary>The output object a service callback writes to (opaque).</summary>\n    \
             [StructLayout(LayoutKind.Sequential)]\n    internal unsafe partial struct plughost_output\n    {\n    }\n}\n",
        )
        .generate_csharp_file(format!("{out_dir}/NativeMethods.g.cs"))
        .expect("csbindgen generates the C# layer");
    if bless() {
        std::fs::copy(
            format!("{out_dir}/NativeMethods.g.cs"),
            format!("{crate_dir}/csharp/PlugHost/NativeMethods.g.cs"),
        )
        .expect("csharp/PlugHost exists");
    }
}
