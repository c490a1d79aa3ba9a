"""A minimal plughost host in Python: load a work module, execute, reload, print the health status.

    PYTHONPATH=bindings/python python3 examples/python/host.py target/release/libcounter.so

(build the counter module with `cargo build --release -p counter`; the plughost library is found
through PLUGHOST_LIBRARY or the repository's target/release or target/debug folder).
"""

import logging
import os
import sys

import plughost


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} <path of the counter module>", file=sys.stderr)
        return 2
    path = os.path.abspath(argv[1])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    config = {"PlugHost": {"Modules": {"TrustedRoots": [os.path.dirname(path)]}}}
    print(f"plughost {plughost.library_version} ({plughost.library_path})")
    with plughost.Host(config) as host:
        counter = host.load_module(path)
        print("version:", counter.execute_text("version"))
        print("increment 5:", counter.execute_text("increment", "5"))
        generation = counter.reload()
        print(f"reloaded: generation {generation}, value kept: {counter.execute_text('get')}")
        try:
            counter.execute("fail")
        except plughost.ModuleFailedError as e:
            print("fail:", e.message)
        print("health:", host.health()["status"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
