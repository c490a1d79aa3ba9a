#!/usr/bin/env bash
# The Python bindings' tests: builds the plughost cdylib (debug), then runs pytest from the
# repository root. The tests use target/debug's library unless PLUGHOST_LIBRARY names another, and
# build the fixture modules themselves. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! python3 -c "import pytest" 2>/dev/null; then
    python3 -m pip install -q pytest
fi
cargo build --quiet
python3 -m pytest -q bindings/python/tests "$@"
