"""An out-of-process plugin written in Python with ``plughost.run_plugin``, started by
tests/test_plugin.py as the child of a session whose other side plays the host. Commands: echo,
config, name, store (``key=value``), get, call (``service input``), publish, subscribe (a topic),
unsubscribe (an id), events, raise. It exits with run_plugin's exit code."""

import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import plughost  # noqa: E402
from plughost import PluginHost  # noqa: E402

state = {"config": "", "events": []}
lock = threading.Lock()


def initialize(config: str) -> None:
    state["config"] = config
    PluginHost.info("python plugin ready")


def on_event(event: plughost.Event) -> None:
    with lock:
        state["events"].append(event)


def process(command: str, payload: bytes) -> bytes:
    if command == "echo":
        return payload
    text = payload.decode()
    if command == "config":
        return state["config"].encode()
    if command == "name":
        return PluginHost.name().encode()
    if command == "store":
        key, value = text.split("=", 1)
        PluginHost.storage_set(key, value.encode())
        return b""
    if command == "get":
        value = PluginHost.storage_get(text)
        return b"<none>" if value is None else value
    if command == "call":
        service, _, argument = text.partition(" ")
        return PluginHost.call_service(service, argument.encode())
    if command == "publish":
        return str(PluginHost.publish("python.news", payload)).encode()
    if command == "subscribe":
        return str(PluginHost.subscribe(text, on_event)).encode()
    if command == "unsubscribe":
        PluginHost.unsubscribe(int(text))
        return b""
    if command == "events":
        with lock:
            return ";".join(f"{e.topic}|{e.source}|{e.payload.decode()}|{e.sequence}" for e in state["events"]).encode()
    if command == "raise":
        raise ValueError("python plugin says no")
    raise plughost.UnknownCommandError(f"no command {command}", 105, "PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND")


def shutdown() -> None:
    PluginHost.info("python plugin stops")


sys.exit(plughost.run_plugin(process, initialize, shutdown))
