#!/usr/bin/env bash
# Every test: formatting, lints, Rust unit and integration tests (which build the example and
# fixture modules and compile and run the C tests), the header and C# layer checks, and the Python
# and C# binding tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-prerequisites.sh
echo "== rustfmt"
cargo fmt --all -- --check
echo "== clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== rustdoc (broken links are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --lib --quiet
echo "== Rust tests (unit, integration, C tests, soak)"
cargo test --quiet 2>&1
echo "== model check of the IPC ring's memory ordering (loom, every interleaving; its own target folder)"
RUSTFLAGS="--cfg loom" CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 cargo test --release --lib --quiet --target-dir target/loom ipc::ring::loom_model 2>&1
echo "== Python bindings"
bash bindings/python/run-tests.sh
echo "== in-process Python (feature python-inprocess; its own target folder, so the default library stays Python-free)"
cargo clippy --features python-inprocess --all-targets --quiet --target-dir target/inprocess -- -D warnings
cargo test --features python-inprocess --test python_inprocess --quiet --target-dir target/inprocess 2>&1
# The library as C and Python hosts load it (the RTLD_LOCAL test above built it there already).
cargo build --lib --features python-inprocess --quiet --target-dir target/inprocess-lib
PLUGHOST_LIBRARY="$PWD/target/inprocess-lib/debug/libplughost.so" python3 -m pytest -q bindings/python/tests/test_python_inprocess.py
echo "== C# bindings and the Revit loader (mono, NUnit)"
bash csharp/run-tests.sh
