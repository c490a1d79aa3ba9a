"""IPC sessions from Python: Python as peer A with the C peer (examples/c/ipc_peer.c) and with a
Python peer B (tests/peers/python_peer.py), errors, and freeing."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

import plughost

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="IPC sessions are Linux-only for now")

PYTHON_PEER = Path(__file__).parent / "peers" / "python_peer.py"


def greet(method: str, payload: bytes) -> bytes:
    assert method == "greet"
    return b"hello " + payload


def test_python_host_and_c_peer(c_peer: Path) -> None:
    events = []
    with plughost.Session.create({"HeartbeatIntervalMs": 50}) as session:
        session.register("host", greet)
        session.on_event(lambda topic, payload: events.append((topic, payload)))
        pid = session.spawn(str(c_peer))
        assert pid > 0 and session.pid == pid
        assert session.call("peer", "echo", b"ping") == b"ping"
        assert session.call("peer", "upper", b"shout") == b"SHOUT"
        assert session.call("peer", "ask-host", b"py") == b"peer heard: hello py"
        assert session.call("peer", "channel", channel=2) == b"two"
        with pytest.raises(plughost.IpcRemoteFailedError, match=r"INVALID_ARGUMENT \(2\): refused: x"):
            session.call("peer", "fail", b"x")
        with pytest.raises(plughost.ServiceNotFoundError, match="on channel 3"):
            session.call("peer", "echo", channel=3)
        with pytest.raises(plughost.ArgumentError, match="control channel"):
            session.call("peer", "echo", channel=0)
        session.call("peer", "publish", b"news")
        assert events == [("from-peer", b"news")]
        session.publish("a", b"1")
        session.publish("b", channel=2)
        assert session.call("peer", "events") == b"2"
        stats = session.stats()
        assert stats["open"] and stats["side"] == "a" and stats["peer_pid"] == pid
        assert stats["stats"]["requests_served"] == 1
        registry = session.peer_registry()
        assert sorted((s["channel"], s["name"]) for s in registry["services"]) == [(1, "peer"), (2, "peer")]
        session.check()
        with pytest.raises(plughost.ArgumentError, match="started its peer already"):
            session.spawn(str(c_peer))
    assert session.closed
    with pytest.raises(plughost.SessionClosedError):
        session.call("peer", "echo")


def test_python_host_and_python_peer() -> None:
    with plughost.Session.create() as session:
        session.register("host", greet)
        received = []
        session.on_event(lambda topic, payload: received.append(topic), channel=1)
        session.spawn(sys.executable, [str(PYTHON_PEER)])
        assert session.call("py", "echo", b"\x00binary\xff", timeout=30) == b"\x00binary\xff"
        assert session.call("py", "add", b"[1, 2, 3]") == b"6"
        assert session.call("py", "ask-host", b"there") == b"python heard: hello there"
        with pytest.raises(plughost.IpcRemoteFailedError, match="ValueError: python says no"):
            session.call("py", "raise")
        with pytest.raises(plughost.IpcRemoteFailedError, match="MODULE_UNKNOWN_COMMAND"):
            session.call("py", "nope")
        session.call("py", "publish", b"x")
        assert received == ["from-python"]


def test_many_threads_call_at_once(c_peer: Path) -> None:
    with plughost.Session.create() as session:
        session.spawn(str(c_peer))
        wrong = []

        def worker(n: int) -> None:
            for i in range(100):
                text = f"{n}-{i}".encode()
                if session.call("peer", "echo", text) != text:
                    wrong.append(text)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert wrong == []
        assert session.stats()["stats"]["calls"] == 400


def test_a_crashing_peer_fails_the_call_at_once(c_peer: Path) -> None:
    with plughost.Session.create() as session:
        session.spawn(str(c_peer))
        started = time.monotonic()
        with pytest.raises(plughost.IpcPeerDeadError):
            session.call("peer", "abort")
        assert time.monotonic() - started < 5
        with pytest.raises(plughost.IpcPeerDeadError):
            session.check()
        assert not session.stats()["open"]


def test_errors_without_a_peer() -> None:
    with pytest.raises(plughost.ConfigurationError, match="power of two"):
        plughost.Session.create({"RingCapacity": 1000})
    with pytest.raises(plughost.ConfigurationError, match='did you mean "SpinCount"'):
        plughost.Session.create('{"SpinCont": 1}')
    with pytest.raises(plughost.IpcSetupError, match="PLUGHOST_IPC_SEGMENT"):
        plughost.Session.attach()
    small = {"RingCapacity": 65536, "SlotClasses": [{"Size": 4096, "Count": 2}]}
    with plughost.Session.create(small) as session:
        with pytest.raises(plughost.IpcTooLargeError):
            session.publish("t", bytes(8192))
        with pytest.raises(plughost.IpcTimeoutError):
            session.call("s", "m", timeout=0.05)
        with pytest.raises(plughost.IpcSetupError, match="spawning"):
            session.spawn("/no/such/peer")
        with pytest.raises(ValueError):
            session.call("s", "m", timeout=-1)
        with pytest.raises(TypeError):
            session.publish("t", "text")  # type: ignore[arg-type]
        session.serve(0.01)
        session.serve_in_background()
        with pytest.raises(plughost.ServiceNotFoundError):
            session.unregister("never")
    session.close()  # idempotent


def test_closing_ends_the_peer_and_releases_handlers(c_peer: Path) -> None:
    live = plughost._callbacks.live_count()
    session = plughost.Session.create()
    session.register("host", greet)
    session.on_event(lambda topic, payload: None)
    session.spawn(str(c_peer))
    assert session.call("peer", "echo", b"x") == b"x"
    assert plughost._callbacks.live_count() == live + 2
    pid = session.pid
    session.close()
    assert plughost._callbacks.live_count() == live
    assert not Path(f"/proc/{pid}").exists(), "the peer was reaped"
