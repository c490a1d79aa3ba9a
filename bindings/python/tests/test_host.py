"""The Host: configuration, lifetime, health, logs, services and the main thread, storage, events."""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import os
import subprocess
import sys
import threading
import time

import pytest

import plughost
from plughost import _callbacks

from conftest import BINDINGS


def wait_for(condition, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.001)


def run_in_thread(function, *args):
    """Run ``function`` on a new thread; return a dict with its result or exception."""
    outcome = {}

    def body():
        try:
            outcome["result"] = function(*args)
        except BaseException as e:
            outcome["error"] = e

    thread = threading.Thread(target=body)
    thread.start()
    return thread, outcome


# --- configuration and lifetime -----------------------------------------------------------


def test_configuration_forms():
    for config in (None, "", "{}", '{"PlugHost": {"Logging": {"Level": "warn"}}}', {"PlugHost": {}}):
        with plughost.Host(config) as h:
            assert h.health()["status"] == "healthy"


def test_bad_configuration_lists_every_problem_with_its_json_path():
    with pytest.raises(plughost.ConfigurationError) as e:
        plughost.Host({"PlugHost": {"Modules": {"UnloadTimeotMs": 5}, "Logging": {"Level": "loud"}}})
    error = e.value
    assert (error.status, error.status_name) == (6, "PLUGHOST_ERR_INVALID_CONFIG")
    assert error.message.startswith("2 problem(s) in the configuration:")
    assert '$.PlugHost.Modules.UnloadTimeotMs: unknown key; did you mean "UnloadTimeoutMs"?' in error.message
    assert (
        '$.PlugHost.Logging.Level: expected one of off, error, warn, info, debug, trace, found "loud"' in error.message
    )
    with pytest.raises(plughost.ConfigurationError) as e:
        plughost.Host('{"PlugHost": {"Helth": {}}}')
    assert 'did you mean "Health"?' in e.value.message
    with pytest.raises(plughost.ConfigurationError):
        plughost.Host("{not json")
    with pytest.raises(plughost.ArgumentError) as e:
        plughost.Host(b"\xff")
    assert e.value.status_name == "PLUGHOST_ERR_INVALID_UTF8"


def test_context_manager_closes_and_releases_every_callback(sandbox):
    before = _callbacks.live_count()
    with plughost.Host(sandbox.config()) as h:
        h.register_service("svc", lambda data: data)
        subscription = h.subscribe("topic", lambda event: None)
        h.set_pump_callback(lambda: None)
        assert _callbacks.live_count() == before + 4  # log, service, subscription, pump
        assert not h.closed
    assert h.closed
    assert _callbacks.live_count() == before, "destroy callbacks ran for everything"
    for call in (h.health, h.health_json, lambda: h.load_module("x"), lambda: h.storage_get("k"), h.pump):
        with pytest.raises(plughost.HostClosedError, match="the host is closed"):
            call()
    with pytest.raises(plughost.InvalidHandleError):
        h.publish("t")
    h.close()  # idempotent
    subscription.close()  # nothing left to end
    with pytest.raises(plughost.HostClosedError):
        with h:
            pass
    assert "closed" in repr(h)


def test_garbage_collected_host_is_freed(sandbox):
    before = _callbacks.live_count()
    h = plughost.Host(sandbox.config())
    h.register_service("svc", lambda data: data)
    ptr = h._handle()
    del h
    gc.collect()
    assert _callbacks.live_count() == before
    with pytest.raises(plughost.InvalidHandleError):
        plughost._ffi.lib.plughost_host_health(ptr, ctypes.byref(ctypes.c_uint64()))


def test_close_from_inside_a_callback_is_refused(host):
    def service(data):
        host.close()

    host.register_service("closer", service)
    with pytest.raises(plughost.ServiceFailedError, match="RuntimeError: a Host cannot be closed"):
        host.call_service("closer")
    assert not host.closed


def test_health(host):
    report = host.health()
    assert report["status"] == "healthy"
    assert report["abi_version"] == plughost.ABI_VERSION
    assert report["version"] == plughost.library_version
    assert report["trusted_roots"]["restricted"] is True
    assert json.loads(host.health_json())["components"] == report["components"]


def test_health_check_recovers_a_failed_reload_and_keeps_a_history(sandbox, fixtures):
    config = sandbox.config()
    config["PlugHost"].update({"Profile": "production", "Health": {"HistorySize": 2, "MaxRetryAttempts": 2}})
    with plughost.Host(config) as host:
        assert host.health()["profile"] == "production"
        assert host.health()["last_check"] is None
        assert host.health_history() == []
        transitions = []
        subscription = host.subscribe(
            "plughost.health.transition", lambda event: transitions.append(json.loads(event.payload))
        )
        counter = host.load_module(sandbox.install(fixtures.counter, "counter"))
        broken = sandbox.install(fixtures.counter_broken, "broken")
        with pytest.raises(plughost.ModuleInitError):
            counter.reload(broken)
        assert host.health()["modules"][0]["failed_reload"]["path"] == str(broken)
        check = host.check_health()
        assert (check["run"], check["trigger"], check["status"]) == (1, "request", "degraded")
        modules = next(p for p in check["probes"] if p["component"] == "modules")
        assert modules["faults"][0]["action"] == "retry reload"
        assert [(r["attempt"], r["outcome"]) for r in check["recoveries"]] == [(1, "failed")]
        # A good build at that path: the next retry loads it.
        sandbox.install(fixtures.counter_v2, "broken")
        recoveries = host.check_health()["recoveries"]
        assert [(r["attempt"], r["outcome"]) for r in recoveries] == [(2, "succeeded")]
        assert counter.execute_text("version") == "2.0.0"
        assert host.check_health()["status"] == "healthy"
        assert [(t["component"], t["from"], t["to"]) for t in transitions] == [
            ("modules", "healthy", "degraded"),
            ("modules", "degraded", "healthy"),
        ]
        host.check_health()
        assert [c["run"] for c in host.health_history()] == [3, 4], "HistorySize keeps the last two"
        assert host.health()["last_check"]["run"] == 4
        subscription.close()


# --- logs --------------------------------------------------------------------------------


def test_log_levels(host):
    for level in ("off", "error", "warn", "warning", "info", "debug", "TRACE", 0, 5, 3):
        host.set_log_level(level)
    with pytest.raises(plughost.ArgumentError) as e:
        host.set_log_level(6)
    assert e.value.status_name == "PLUGHOST_ERR_INVALID_ARGUMENT"
    with pytest.raises(ValueError):
        host.set_log_level("loud")


def test_log_level_mapping_and_logger_names(caplog):
    assert plughost.TRACE == logging.DEBUG - 5 == 5
    assert logging.getLevelName(plughost.TRACE) == "TRACE"
    assert plughost._host.LOG_LEVELS == {
        1: logging.ERROR,
        2: logging.WARNING,
        3: logging.INFO,
        4: logging.DEBUG,
        5: plughost.TRACE,
    }
    assert plughost.logger_name("counter") == "plughost.counter"
    assert plughost.logger_name("plughost::modules") == "plughost.plughost.modules"
    assert plughost.logger_name("") == "plughost"
    caplog.set_level(1, logger="plughost")
    for level in range(1, 6):
        plughost.log_to_logging(level, "plughost::test", f"line {level}")
    records = [r for r in caplog.records if r.name == "plughost.plughost.test"]
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (logging.ERROR, "line 1"),
        (logging.WARNING, "line 2"),
        (logging.INFO, "line 3"),
        (logging.DEBUG, "line 4"),
        (plughost.TRACE, "line 5"),
    ]


def test_nothing_is_printed_without_logging_configuration(tmp_path):
    # The second host warns at start (no trusted roots); the first one's callback receives it (a
    # log callback sees the whole process; one set on the new host would come too late).
    code = "import plughost; a = plughost.Host(); plughost.Host().close(); a.close()"
    env = dict(os.environ, PYTHONPATH=str(BINDINGS))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    code = "import logging; logging.basicConfig(); " + code
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert "WARNING:plughost.plughost.modules.trust:no trusted module roots configured" in result.stderr, result.stderr


def test_log_callback_delivers_to_logging_from_another_thread(sandbox, fixtures, caplog):
    caplog.set_level(logging.DEBUG, logger="plughost")
    path = sandbox.install(fixtures.counter, "counter")
    with plughost.Host(sandbox.config()) as h:
        thread, outcome = run_in_thread(h.load_module, path)
        thread.join()
        module = outcome["result"]
        worker = thread.ident
        initialised = [r for r in caplog.records if r.name == "plughost.counter" and "initialised" in r.getMessage()]
        assert initialised and initialised[0].levelno == logging.INFO
        assert initialised[0].thread == worker, "delivered on the thread that logged"
        assert any(
            r.name == "plughost.plughost.modules" and "module loaded" in r.getMessage() and r.thread == worker
            for r in caplog.records
        )
        h.set_log_level("error")
        caplog.clear()
        module.execute("increment")
        module.reload()
        assert all(r.levelno >= logging.ERROR for r in caplog.records if r.name.startswith("plughost."))


def test_custom_log_callback_and_clearing_it(sandbox, fixtures):
    lines = []
    before = _callbacks.live_count()
    with plughost.Host(sandbox.config(), forward_logs=False) as h:
        assert _callbacks.live_count() == before, "no log callback without forward_logs"
        h.set_log_callback(lambda level, target, message: lines.append((level, target, message)))
        h.load_module(sandbox.install(fixtures.counter, "counter"))
        assert any(level == 3 and target == "counter" and "initialised" in m for level, target, m in lines)
        h.set_log_callback(None)
        assert _callbacks.live_count() == before, "the replaced callback was released"
        count = len(lines)
        h.load_module(sandbox.install(fixtures.greeter, "greeter"))
        assert len(lines) == count


def test_a_failing_log_callback_is_contained(sandbox, fixtures):
    def broken(level, target, message):
        raise RuntimeError("broken log sink")

    with plughost.Host(sandbox.config(), forward_logs=False) as h:
        h.set_log_callback(broken)
        module = h.load_module(sandbox.install(fixtures.counter, "counter"))
        assert module.execute_text("version") == "1.0.0"


# --- services and the main thread ---------------------------------------------------------


def test_services(host, sandbox, fixtures):
    before = _callbacks.live_count()
    host.register_service("revit.create_wall", lambda data: b"wall for " + data)
    assert host.call_service("revit.create_wall", b"ada") == b"wall for ada"
    assert host.call_service("revit.create_wall") == b"wall for "
    counter = host.load_module(sandbox.install(fixtures.counter, "counter"))
    assert counter.execute("call", b"revit.create_wall") == b"wall for from counter"
    greeter = host.load_module(sandbox.install(fixtures.greeter, "greeter"))
    assert greeter.execute("service", b"revit.create_wall") == b"wall for from C"

    with pytest.raises(plughost.ServiceExistsError) as e:
        host.register_service("revit.create_wall", lambda data: data)
    assert e.value.status == 202 and "already registered" in e.value.message
    assert _callbacks.live_count() == before + 1, "the refused registration was released"

    with pytest.raises(plughost.ServiceNotFoundError) as e:
        host.call_service("no.such.service")
    assert e.value.status == 200 and "no.such.service" in e.value.message

    def refuse(data):
        raise ValueError("the wall is too thick")

    host.register_service("refuses", refuse)
    with pytest.raises(plughost.ServiceFailedError) as e:
        host.call_service("refuses", b"x")
    assert e.value.status == 201 and "ValueError: the wall is too thick" in e.value.message
    with pytest.raises(plughost.ModuleFailedError, match="the wall is too thick"):
        counter.execute("call", b"refuses")

    host.register_service("returns_text", lambda data: "text")
    with pytest.raises(plughost.ServiceFailedError, match="must return bytes, not str"):
        host.call_service("returns_text")
    host.register_service("returns_none", lambda data: None)
    assert host.call_service("returns_none") == b""
    host.register_service("binary", lambda data: bytearray(data[::-1]))
    assert host.call_service("binary", b"\x00\x01\x02") == b"\x02\x01\x00"

    for name in ("revit.create_wall", "refuses", "returns_text", "returns_none", "binary"):
        host.unregister_service(name)
    assert _callbacks.live_count() == before, "unregistering released every callable"
    with pytest.raises(plughost.ServiceNotFoundError):
        host.call_service("revit.create_wall")
    with pytest.raises(plughost.ServiceNotFoundError):
        host.unregister_service("revit.create_wall")
    with pytest.raises(plughost.ArgumentError):
        host.register_service("", lambda data: data)


def test_main_thread_service_is_pumped(host, sandbox, fixtures):
    main = threading.get_ident()
    host.register_service(
        "ui.ask", lambda data: b"main" if threading.get_ident() == main else b"other", main_thread=True
    )
    assert host.call_service("ui.ask") == b"main", "inline on the main thread"
    counter = host.load_module(sandbox.install(fixtures.counter, "counter"))
    assert counter.execute("call", b"ui.ask") == b"main"
    requests = []
    host.set_pump_callback(lambda: requests.append(threading.get_ident()))
    assert host.pump() == 0
    thread, outcome = run_in_thread(counter.execute, "call", b"ui.ask")
    ran = 0
    deadline = time.monotonic() + 10
    while ran == 0 and time.monotonic() < deadline:
        ran = host.pump(max_calls=1)
    thread.join()
    assert ran == 1
    assert outcome == {"result": b"main"}, "queued, then run by the pump on the main thread"
    assert requests == [thread.ident], "the pump callback ran on the queueing thread"
    host.set_pump_callback(None)


def test_set_main_thread_moves_the_main_thread(host):
    host.register_service("ui.where", lambda data: str(threading.get_ident()).encode(), main_thread=True)
    ready = threading.Event()
    stop = threading.Event()
    seen = {}

    def new_main():
        host.set_main_thread()
        seen["ident"] = threading.get_ident()
        ready.set()
        while not stop.is_set():
            host.pump()
            time.sleep(0.001)

    thread = threading.Thread(target=new_main)
    thread.start()
    ready.wait()
    try:
        with pytest.raises(plughost.WrongThreadError):
            host.pump()
        assert host.call_service("ui.where") == str(seen["ident"]).encode(), "ran on the new main thread"
    finally:
        stop.set()
        thread.join()
    host.set_main_thread()
    assert host.pump() == 0


def test_pump_off_the_main_thread_is_wrong_thread(host):
    thread, outcome = run_in_thread(host.pump)
    thread.join()
    error = outcome["error"]
    assert isinstance(error, plughost.WrongThreadError)
    assert (error.status, error.status_name) == (7, "PLUGHOST_ERR_WRONG_THREAD")
    assert "main thread" in error.message


def test_unpumped_main_thread_call_times_out(sandbox):
    config = sandbox.config()
    config["PlugHost"]["Services"] = {"MainThreadCallTimeoutMs": 100}
    with plughost.Host(config) as h:
        h.register_service("ui.ask", lambda data: b"never", main_thread=True)
        thread, outcome = run_in_thread(h.call_service, "ui.ask")
        thread.join()
        error = outcome["error"]
        assert isinstance(error, plughost.PlugHostTimeoutError)
        assert error.status == 8 and "waited" in error.message
        assert h.pump() == 0, "the timed-out call was withdrawn"


def test_queued_main_thread_call_fails_when_the_host_stops(sandbox):
    h = plughost.Host(sandbox.config())
    h.register_service("ui.ask", lambda data: b"never", main_thread=True)
    thread, outcome = run_in_thread(h.call_service, "ui.ask")
    wait_for(lambda: h.health()["main_thread_pending"] == 1, what="the queued call")
    h.close()
    thread.join()
    error = outcome["error"]
    assert isinstance(error, plughost.HostStoppedError)
    assert (error.status, error.status_name) == (11, "PLUGHOST_ERR_HOST_STOPPED")


# --- storage and events ------------------------------------------------------------------


def test_storage(host, sandbox, fixtures):
    host.storage_set("greeting", b"hello\x00world")
    assert host.storage_get("greeting") == b"hello\x00world"
    host.storage_set("empty", b"")
    assert host.storage_get("empty") == b""
    host.storage_set("grüße", bytearray(b"x"))
    assert host.storage_get("grüße") == b"x"
    with pytest.raises(plughost.KeyNotFoundError) as e:
        host.storage_get("missing")
    assert isinstance(e.value, KeyError)
    assert str(e.value) == 'no storage key "missing" (PLUGHOST_ERR_KEY_NOT_FOUND)'
    with pytest.raises(KeyError):
        host.storage_get("missing")
    with pytest.raises(TypeError, match="bytes-like"):
        host.storage_set("k", "text")
    counter = host.load_module(sandbox.install(fixtures.counter, "counter"))
    counter.execute("store", b"remember me")
    assert host.storage_get("counter.last") == b"remember me"


def test_storage_limit(sandbox):
    config = sandbox.config()
    config["PlugHost"]["Storage"] = {"MaxBytes": 16}
    with plughost.Host(config) as h:
        h.storage_set("a", b"12345")
        with pytest.raises(plughost.LimitReachedError) as e:
            h.storage_set("b", b"x" * 32)
        assert e.value.status == 9
        assert h.storage_get("a") == b"12345"


def test_events(host, sandbox, fixtures):
    seen = []
    everything = []
    subscription = host.subscribe("counter.changed", seen.append)
    all_topics = host.subscribe("*", everything.append)
    assert subscription.topic == "counter.changed" and subscription.id != all_topics.id
    counter = host.load_module(sandbox.install(fixtures.counter, "counter"))
    counter.execute("publish", b"42")
    host.publish("counter.changed", b"\x00binary")
    host.publish("other.topic")
    assert [(e.topic, e.source, e.payload) for e in seen] == [
        ("counter.changed", "counter", b"42"),
        ("counter.changed", "host", b"\x00binary"),
    ]
    assert isinstance(seen[0], plughost.Event)
    assert seen[0].sequence < seen[1].sequence
    assert [e.topic for e in everything] == ["counter.changed", "counter.changed", "other.topic"]
    subscription.close()
    subscription.close()
    host.publish("counter.changed", b"after")
    assert len(seen) == 2, "no delivery after close"
    with all_topics:
        pass
    assert all_topics.closed
    with pytest.raises(plughost.InvalidHandleError):
        plughost._ffi.lib.plughost_event_unsubscribe(host._handle(), all_topics.id)
    with pytest.raises(plughost.ArgumentError):
        host.publish("")


def test_events_from_another_thread_and_a_failing_subscriber(host, caplog):
    deliveries = []

    def subscriber(event):
        deliveries.append(threading.get_ident())
        raise RuntimeError("subscriber bug")

    with host.subscribe("t", subscriber):
        thread, outcome = run_in_thread(host.publish, "t", b"p")
        thread.join()
        assert outcome == {"result": None}, "the publisher is not disturbed"
    assert deliveries == [thread.ident], "delivered on the publishing thread"
    assert any("event subscriber raised" in r.getMessage() for r in caplog.records)
