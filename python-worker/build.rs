//! Link the worker to the Python found at build time, with a run path to its library folder
//! (pyenv and other non-system installations are not on the loader's default path).

fn main() {
    let config = pyo3_build_config::get();
    if let Some(dir) = config.lib_dir() {
        if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
            println!("cargo:rustc-link-arg-bins=-Wl,-rpath,{dir}");
        }
    }
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
