//! Record the Python version this crate is built for (`major.minor`), which the interpreter's
//! start checks against the one it finds.

fn main() {
    let config = pyo3_build_config::get();
    println!("cargo:rustc-env=PLUGHOST_PYTHON_BUILD_VERSION={}.{}", config.version().major, config.version().minor);
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
