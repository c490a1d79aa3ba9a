"""The plugin side from Python: tests/peers/python_plugin.py (``plughost.run_plugin`` and
``plughost.PluginHost``) runs as the child of a session whose other side plays the host: it
serves the host service on channel 2 (log, storage, a ``greet`` service, publish, subscribe) with
the protocol's postcard payloads, and calls the plugin's lifecycle and commands on channel 1."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

import plughost

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="IPC sessions are Linux-only for now")

PLUGIN = Path(__file__).parent / "peers" / "python_plugin.py"
OPTIONS = {"RingCapacity": 131072, "HeartbeatIntervalMs": 50}
PLUGIN_CHANNEL, HOST_CHANNEL, EVENT_CHANNEL = 1, 2, 3


# --- postcard, as much as the protocol's types need --------------------------------------------


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def varint(self) -> int:
        n = shift = 0
        while True:
            byte = self.data[self.at]
            self.at += 1
            n |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return n

    def bytes(self) -> bytes:
        length = self.varint()
        self.at += length
        return self.data[self.at - length : self.at]

    def text(self) -> str:
        return self.bytes().decode()


def blob(data: bytes) -> bytes:
    return varint(len(data)) + data


class FakeHost:
    """The host service of the protocol, recording what the plugin asked."""

    def __init__(self) -> None:
        self.logs: List[Tuple[int, str]] = []
        self.storage: Dict[str, bytes] = {}
        self.published: List[Tuple[str, bytes]] = []
        self.subscriptions: Dict[int, str] = {}

    def __call__(self, method: str, payload: bytes) -> bytes:
        r = Reader(payload)
        if method == "log":
            self.logs.append((r.varint(), r.text()))
            return b""
        if method == "storage.get":
            key = payload.decode()
            if key not in self.storage:
                raise plughost.KeyNotFoundError(f"no value under {key}", 300, "PLUGHOST_ERR_KEY_NOT_FOUND")
            return self.storage[key]
        if method == "storage.set":
            key = r.text()
            self.storage[key] = r.bytes()
            return b""
        if method == "service.call":
            name, argument = r.text(), r.bytes()
            if name != "greet":
                raise plughost.ServiceNotFoundError(f"no service {name}", 200, "PLUGHOST_ERR_SERVICE_NOT_FOUND")
            return b"hello " + argument
        if method == "event.publish":
            self.published.append((r.text(), r.bytes()))
            return (0).to_bytes(8, "little")
        if method == "event.subscribe":
            sid = len(self.subscriptions) + 1
            self.subscriptions[sid] = payload.decode()
            return sid.to_bytes(8, "little")
        if method == "event.unsubscribe":
            del self.subscriptions[int.from_bytes(payload, "little")]
            return b""
        raise ValueError(f"no host method {method}")


def envelope(subscription: int, source: str, sequence: int, payload: bytes) -> bytes:
    return varint(subscription) + blob(source.encode()) + varint(sequence) + blob(payload)


def test_python_plugin_under_a_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLUGHOST_PLUGIN_NAME", "py-plugin")
    monkeypatch.setenv("PLUGHOST_PLUGIN_IPC", json.dumps(OPTIONS))
    host = FakeHost()
    with plughost.Session.create(OPTIONS) as session:
        session.register("host", host, channel=HOST_CHANNEL)
        session.spawn(sys.executable, [str(PLUGIN)])

        def command(name: str, payload: bytes = b"") -> bytes:
            return session.call("plugin", name, payload, channel=PLUGIN_CHANNEL, timeout=30)

        session.call("plugin.lifecycle", "initialize", b'{"Mode": "py"}', channel=PLUGIN_CHANNEL, timeout=30)
        assert host.logs == [(3, "python plugin ready")]
        assert command("config") == b'{"Mode": "py"}'
        assert command("echo", b"\x00bin\xff") == b"\x00bin\xff"
        assert command("name") == b"py-plugin"
        command("store", b"colour=blue")
        assert host.storage == {"colour": b"blue"}
        assert command("get", b"colour") == b"blue"
        assert command("get", b"size") == b"<none>"
        assert command("call", b"greet py") == b"hello py"
        with pytest.raises(plughost.ServiceNotFoundError, match="no service nothing"):
            command("call", b"nothing")
        assert command("publish", b"hi") == b"0"
        assert host.published == [("python.news", b"hi")]
        sid = int(command("subscribe", b"news"))
        assert host.subscriptions == {sid: "news"}
        session.publish("news", envelope(sid, "host", 7, b"extra"), channel=EVENT_CHANNEL)
        deadline = time.monotonic() + 10
        while command("events") != b"news|host|extra|7":
            assert time.monotonic() < deadline, command("events")
            time.sleep(0.01)
        command("unsubscribe", str(sid).encode())
        assert host.subscriptions == {}
        with pytest.raises(plughost.IpcRemoteFailedError, match=r"SERVICE_FAILED \(201\): ValueError: python plugin"):
            command("raise")
        with pytest.raises(plughost.IpcRemoteFailedError, match=r"UNKNOWN_COMMAND \(105\): UnknownCommandError"):
            command("fly")
        session.call("plugin.lifecycle", "shutdown", channel=PLUGIN_CHANNEL, timeout=30)
        assert host.logs[-1] == (3, "python plugin stops")
        pid = session.pid
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # exited and reaped


def test_plugin_host_outside_a_plugin() -> None:
    with pytest.raises(plughost.InvalidHandleError, match="no plugin is running"):
        plughost.PluginHost.name()
    with pytest.raises(plughost.InvalidHandleError):
        plughost.PluginHost.storage_get("k")


def test_run_plugin_without_a_host_returns_2(capfd: pytest.CaptureFixture[str]) -> None:
    assert plughost.run_plugin(lambda command, payload: payload) == 2
    assert "not started by a plughost host" in capfd.readouterr().err
