#!/usr/bin/env bash
# The demo: builds the example modules and the C IPC peer, and runs examples/demo.rs against them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-prerequisites.sh
modules=$(bash scripts/build-example-modules.sh)
cargo build --quiet --lib
mkdir -p target/demo
cc -std=c11 -Wall -Wextra -Werror -O1 -I include -o target/demo/ipc_peer examples/c/ipc_peer.c \
    -L "$PWD/target/debug" -lplughost -Wl,-rpath,"$PWD/target/debug"
cargo run --quiet --example demo -- "$modules" target/demo/ipc_peer
