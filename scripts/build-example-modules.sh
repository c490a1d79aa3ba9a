#!/usr/bin/env bash
# Build the example work modules, plugins and the Python worker (release) into target/fixtures/release and print that folder.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p counter -p counter-v2 -p counter-broken -p analytics -p transform -p plughost-python-worker --target-dir target/fixtures >&2
echo "$PWD/target/fixtures/release"
