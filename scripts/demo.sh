#!/usr/bin/env bash
# The demo: builds the example modules and runs examples/demo.rs against them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-prerequisites.sh
modules=$(bash scripts/build-example-modules.sh)
cargo run --quiet --example demo -- "$modules"
