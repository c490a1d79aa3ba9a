//! Generates the C header from src/ with the pinned cbindgen (feature `ffi`).
//!
//! The header is written to `$OUT_DIR/plughost.h`; the `header_is_current` test compares it with
//! the checked-in `include/plughost.h`. Set `PLUGHOST_BLESS=1` to write the checked-in copy.

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=PLUGHOST_BLESS");
    #[cfg(feature = "ffi")]
    generate_header();
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
    if std::env::var_os("PLUGHOST_BLESS").is_some_and(|v| v == "1") {
        bindings.write_to_file(format!("{crate_dir}/include/plughost.h"));
    }
}
