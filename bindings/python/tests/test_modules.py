"""Work modules: load, execute, reload with state hand-over and rollback, unload, every load,
execute and unload error, limits, stale ids, reload under load, the async form, the example."""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import subprocess
import sys
import threading

import pytest

import plughost
from conftest import REPO, replace_file
from test_host import run_in_thread, wait_for


def test_load_execute_unload(host, sandbox, fixtures):
    counter = host.load_module(sandbox.install(fixtures.counter, "counter"))
    assert counter.id > 0 and "counter" in repr(counter)
    assert counter.execute("version") == b"1.0.0"
    assert counter.execute_text("increment", "5") == "5"
    assert counter.execute_text("echo", "grüße ✓") == "grüße ✓"
    assert counter.execute("echo", b"\x00\xff\x00") == b"\x00\xff\x00"
    assert counter.execute("echo", memoryview(b"view")) == b"view"
    assert counter.execute("noop") == b""
    assert sandbox.shadow_folders() == 1
    counter.unload()
    assert sandbox.shadow_folders() == 0, "shadow folder removed once unmapped"
    with pytest.raises(plughost.InvalidHandleError) as e:
        counter.execute("get")
    assert e.value.status == 4
    with pytest.raises(plughost.InvalidHandleError):
        counter.unload()  # double unload
    with pytest.raises(plughost.InvalidHandleError):
        counter.reload()


def test_command_errors_are_distinct(host, sandbox, fixtures):
    counter = host.load_module(sandbox.install(fixtures.counter, "counter"))
    with pytest.raises(plughost.UnknownCommandError) as e:
        counter.execute("nope")
    assert e.value.status == 105 and '"nope"' in e.value.message
    with pytest.raises(plughost.ModuleFailedError) as e:
        counter.execute("fail")
    assert e.value.message == "failure requested by the caller"
    assert (e.value.status, e.value.status_name) == (106, "PLUGHOST_ERR_MODULE_FAILED")
    with pytest.raises(plughost.ModulePanickedError) as e:
        counter.execute("panic")
    assert e.value.status == 107 and "panic requested by the caller" in e.value.message
    for error in (plughost.UnknownCommandError, plughost.ModuleFailedError, plughost.ModulePanickedError):
        assert issubclass(error, plughost.ModuleExecuteError)
    assert counter.execute_text("increment") == "1", "the module still serves after a panic"
    with pytest.raises(plughost.ModuleFailedError, match="not a number"):
        counter.execute_text("increment", "many")
    with pytest.raises(TypeError):
        counter.execute("echo", "text is not bytes")


def test_reload_hands_state_over_and_swaps_version(host, sandbox, fixtures):
    path = sandbox.install(fixtures.counter, "counter")
    counter = host.load_module(path)
    counter.execute("increment", b"41")
    replace_file(fixtures.counter_v2, path)
    assert counter.reload() == 2
    assert counter.execute_text("version") == "2.0.0"
    assert counter.execute_text("get") == "41", "state handed over"
    assert counter.execute_text("increment", "1") == "43", "v2 adds twice"
    assert sandbox.shadow_folders() == 1
    module = host.health()["modules"][0]
    assert (module["generation"], module["reloads"], module["loads"]) == (2, 1, 2)


def test_reload_from_another_path_with_a_c_module(host, sandbox, fixtures):
    greeter = host.load_module(sandbox.install(fixtures.greeter, "greeter"))
    assert greeter.execute_text("greet", "Ada") == "Hello, Ada!"
    greeter.execute("count")
    v2 = sandbox.install(fixtures.greeter_v2, "greeter_v2")
    assert greeter.reload(v2) == 2
    assert greeter.path == str(v2)
    assert greeter.execute_text("greet", "Ada") == "Good day, Ada!"
    assert greeter.execute_text("count") == "4", "the count went across the reload"
    with pytest.raises(plughost.ModuleFailedError, match="greeter was asked to fail"):
        greeter.execute("fail")


def test_failed_reload_rolls_back(host, sandbox, fixtures):
    counter = host.load_module(sandbox.install(fixtures.counter, "counter"))
    counter.execute("increment", b"7")
    with pytest.raises(plughost.ModuleInitError) as e:
        counter.reload(sandbox.install(fixtures.counter_broken, "broken"))
    assert "init refuses" in e.value.message
    garbage = sandbox.root / "garbage.so"
    garbage.write_bytes(b"\x7fELF but not really")
    with pytest.raises(plughost.ModuleNotLoadableError):
        counter.reload(garbage)
    assert counter.execute_text("get") == "7", "generation 1 keeps serving with its state"
    assert counter.execute_text("version") == "1.0.0"
    assert sandbox.shadow_folders() == 1
    module = host.health()["modules"][0]
    assert (module["reload_failures"], module["generation"]) == (2, 1)


def test_failed_state_hand_over_rolls_back(host, sandbox, fixtures):
    module = host.load_module(sandbox.install(fixtures.restore_fails, "restore_fails"))
    with pytest.raises(plughost.ModuleStateTransferError) as e:
        module.reload()
    assert isinstance(e.value, plughost.ModuleUnloadError)
    assert e.value.status == 111
    assert "state format changed" in e.value.message
    assert "generation 1 keeps serving" in e.value.message
    assert module.execute("anything") == b"", "generation 1 serves again"
    assert host.health()["modules"][0]["generation"] == 1
    assert sandbox.shadow_folders() == 1


def test_every_load_error_has_its_exception(host, sandbox, fixtures):
    def load_error(path):
        with pytest.raises(plughost.ModuleLoadError) as e:
            host.load_module(path)
        return e.value

    assert type(load_error(sandbox.root / "missing.so")) is plughost.ModuleFileNotFoundError
    truncated = sandbox.root / "truncated.so"
    data = fixtures.greeter.read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    assert type(load_error(truncated)) is plughost.ModuleNotLoadableError
    text_file = sandbox.root / "notes.so"
    text_file.write_bytes(b"not a library")
    assert type(load_error(text_file)) is plughost.ModuleNotLoadableError
    assert type(load_error(sandbox.root)) is plughost.ModuleNotLoadableError, "a folder"
    assert type(load_error(sandbox.install(fixtures.no_entry, "no_entry"))) is plughost.ModuleEntryMissingError
    for name in ("abi_mismatch", "short_table", "null_entry", "missing_execute"):
        error = load_error(sandbox.install(getattr(fixtures, name), name))
        assert type(error) is plughost.ModuleAbiMismatchError, name
        assert error.status == 103
    error = load_error(sandbox.install(fixtures.init_fails, "init_fails"))
    assert type(error) is plughost.ModuleInitError
    assert "cannot reach the licence server" in error.message
    outside = sandbox.outside / "libcounter.so"
    outside.write_bytes(fixtures.counter.read_bytes())
    assert type(load_error(outside)) is plughost.ModulePathNotTrustedError
    assert type(load_error(sandbox.root / ".." / "outside" / "libcounter.so")) is plughost.ModulePathNotTrustedError
    (sandbox.root / "link.so").symlink_to(outside)
    error = load_error(sandbox.root / "link.so")
    assert type(error) is plughost.ModulePathNotTrustedError and error.status == 109
    assert sandbox.shadow_folders() == 0, "no failed load leaves a shadow folder"


def test_io_error(host, sandbox):
    a_file = sandbox.root / "file.txt"
    a_file.write_text("x")
    with pytest.raises(plughost.PlugHostIOError) as e:
        host.load_module(a_file / "module.so")
    assert (e.value.status, e.value.status_name) == (10, "PLUGHOST_ERR_IO")
    assert "cannot resolve" in e.value.message


def test_limit_reached_and_stale_ids(sandbox, fixtures):
    with plughost.Host(sandbox.config(MaxModules=1)) as h:
        path = sandbox.install(fixtures.greeter, "greeter")
        first = h.load_module(path)
        with pytest.raises(plughost.LimitReachedError) as e:
            h.load_module(path)
        assert e.value.status == 9 and "slots" in e.value.message
        first.unload()
        second = h.load_module(path)
        assert second.id != first.id
        with pytest.raises(plughost.InvalidHandleError):
            first.execute("count")
        with pytest.raises(plughost.InvalidHandleError):
            first.reload()
        for module_id in (0, 2**64 - 1):
            with pytest.raises(plughost.InvalidHandleError):
                plughost.Module(h, module_id, "").execute("count")
        assert second.execute_text("count") == "1"


def test_drain_timeout_on_unload(sandbox, fixtures):
    with plughost.Host(sandbox.config(UnloadTimeoutMs=50)) as h:
        counter = h.load_module(sandbox.install(fixtures.counter, "counter"))
        thread, outcome = run_in_thread(counter.execute, "sleep", b"400")
        wait_for(lambda: h.health()["modules"][0]["in_flight"] == 1, what="the call in flight")
        with pytest.raises(plughost.ModuleDrainTimeoutError) as e:
            counter.unload()
        assert isinstance(e.value, plughost.ModuleUnloadError) and e.value.status == 108
        health = h.health()
        assert health["retained_generations"][0]["reason"] == "draining"
        assert health["status"] == "degraded"
        thread.join()
        assert outcome == {"result": b""}, "the in-flight call completes"
        with pytest.raises(plughost.InvalidHandleError):
            counter.execute("get")


def test_callbacks_from_a_thread_python_did_not_create(sandbox, fixtures, caplog):
    # The health monitor (a Rust thread) publishes status changes and logs them: the event and the
    # log line reach Python on that thread.
    caplog.set_level(logging.INFO, logger="plughost")
    config = sandbox.config(UnloadTimeoutMs=50)
    config["PlugHost"]["Health"] = {"IntervalMs": 100}
    events = []
    with plughost.Host(config) as h:
        h.subscribe("plughost.health", lambda e: events.append((threading.get_ident(), json.loads(e.payload))))
        counter = h.load_module(sandbox.install(fixtures.counter, "counter"))
        thread, outcome = run_in_thread(counter.execute, "sleep", b"500")
        wait_for(lambda: h.health()["modules"][0]["in_flight"] == 1, what="the call in flight")
        with pytest.raises(plughost.ModuleDrainTimeoutError):
            counter.unload()
        thread.join()
        wait_for(lambda: [e["status"] for _, e in events] == ["degraded", "healthy"], what="both health events")
    monitor = {ident for ident, _ in events}
    assert len(monitor) == 1 and monitor.isdisjoint({threading.get_ident(), thread.ident})
    changed = [
        r
        for r in caplog.records
        if r.name.startswith("plughost.plughost.health") and "health changed" in r.getMessage()
    ]
    assert [r.levelno for r in changed] == [logging.WARNING, logging.INFO]
    assert {r.thread for r in changed} == monitor


@pytest.mark.skipif(sys.platform != "linux", reason="pinned generations are detected on Linux only")
def test_pinned_generations_are_capped(sandbox, fixtures):
    with plughost.Host(sandbox.config(MaxPinnedGenerations=1)) as h:
        path = sandbox.install(fixtures.tls_pinned, "tls")
        # A thread that ends before the unload takes its thread-local values along: unmapped.
        module = h.load_module(path)
        thread, outcome = run_in_thread(module.execute, "touch")
        thread.join()
        assert outcome == {"result": b"1"}
        # Thread.join() returns before the OS thread has run its thread-local destructors (the
        # ones holding the library): wait until the kernel task is gone.
        wait_for(lambda: not os.path.exists(f"/proc/self/task/{thread.native_id}"), what="the thread's exit")
        module.unload()
        assert sandbox.shadow_folders() == 0

        # A thread that lives on through the unload keeps the library mapped: pinned and capped.
        module = h.load_module(path)
        touched, release = threading.Event(), threading.Event()

        def keeper():
            module.execute("touch")
            touched.set()
            release.wait()

        thread = threading.Thread(target=keeper)
        thread.start()
        try:
            touched.wait()
            module.unload()
            health = h.health()
            assert health["retained_generations"][0]["reason"] == "pinned"
            assert health["status"] == "unhealthy"
            with pytest.raises(plughost.ModulePinnedLimitError) as e:
                h.load_module(path)
            assert isinstance(e.value, plughost.ModuleLoadError) and e.value.status == 110
        finally:
            release.set()
            thread.join()


def test_reload_under_load_from_four_threads_has_no_failures(host, sandbox, fixtures):
    path = sandbox.install(fixtures.counter, "counter")
    counter = host.load_module(path)
    stop = threading.Event()
    calls = [0] * 4
    failures = []

    def worker(index):
        while not stop.is_set():
            try:
                counter.execute("increment")
                calls[index] += 1
            except Exception as e:  # pragma: no cover - the assertion below reports it
                failures.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: all(calls), what="every worker to run")
        for i in range(20):
            replace_file(fixtures.counter_v2 if i % 2 == 0 else fixtures.counter, path)
            assert counter.reload() == i + 2
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert all(c > 0 for c in calls), calls
    module = host.health()["modules"][0]
    assert module["reloads"] == 20 and module["execute_failures"] == 0
    assert int(counter.execute_text("get")) >= sum(calls), "the value survived every reload"


def test_execute_async(sandbox, fixtures):
    h = plughost.Host(sandbox.config())
    try:
        counter = h.load_module(sandbox.install(fixtures.counter, "counter"))
        futures = [counter.execute_async("increment") for _ in range(50)]
        results = sorted(int(f.result(timeout=30)) for f in futures)
        assert results == list(range(1, 51))
        assert counter.execute_async("echo", b"async").result(timeout=30) == b"async"
        slow = counter.execute_async("sleep", b"100")
        assert isinstance(slow, concurrent.futures.Future)
        assert slow.result(timeout=30) == b""
        with pytest.raises(plughost.UnknownCommandError):
            counter.execute_async("nope").result(timeout=30)
    finally:
        h.close()
    with pytest.raises(plughost.HostClosedError):
        counter.execute_async("get")


def test_example_host_program(sandbox, fixtures):
    path = sandbox.install(fixtures.counter, "counter")
    env = dict(os.environ, PYTHONPATH=str(REPO / "bindings" / "python"))
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "python" / "host.py"), str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"plughost {plughost.library_version}")
    assert lines[1:] == [
        "version: 1.0.0",
        "increment 5: 5",
        "reloaded: generation 2, value kept: 5",
        "fail: failure requested by the caller",
        "health: healthy",
    ]


def test_watching_reloads_a_rebuilt_module(sandbox, fixtures):
    config = sandbox.config(Watch={"DebounceMs": 50})
    with plughost.Host(config) as host:
        assert host.watching is False
        path = sandbox.install(fixtures.counter, "counter")
        counter = host.load_module(path)
        reloaded = threading.Event()
        outcomes = []

        def heard(event):
            outcomes.append((event.topic, json.loads(event.payload)))
            if event.topic == "plughost.module.reloaded":
                reloaded.set()

        with host.subscribe("*", heard):
            host.set_watching(True)
            assert host.watching is True
            replace_file(fixtures.counter_v2, path)
            assert reloaded.wait(20), outcomes
        topics = [topic for topic, _ in outcomes if topic.startswith("plughost.module.")]
        assert topics == ["plughost.module.reloading", "plughost.module.reloaded"], outcomes
        assert outcomes[-1][1]["generation"] == 2 and outcomes[-1][1]["module"] == "counter"
        assert counter.execute_text("version") == "2.0.0"
        host.set_watching(False)
        assert host.watching is False
