"""A plughost IPC peer B written in Python, started by tests/test_session.py through
``Session.spawn(sys.executable, [this file])``: it serves "py" on channel 1 (echo, add,
ask-host, raise, publish) and exits 0 after the host's goodbye."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import plughost  # noqa: E402

session = plughost.Session.attach()


def py(method: str, payload: bytes) -> bytes:
    if method == "echo":
        return payload
    if method == "add":
        numbers = json.loads(payload)
        return json.dumps(sum(numbers)).encode()
    if method == "ask-host":
        return b"python heard: " + session.call("host", "greet", payload, timeout=10)
    if method == "raise":
        raise ValueError("python says no")
    if method == "publish":
        session.publish("from-python", payload)
        return b""
    raise plughost.UnknownCommandError(f"no method {method}", 105, "PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND")


session.register("py", py)
session.serve_forever()
session.close()
