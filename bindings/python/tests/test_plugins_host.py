"""Plugins from the host's side in Python: a host declaring the C plugin (examples/c/plugin_c.c),
calls, a crash and its restart, stop and start, the list, and state subscriptions."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

import plughost

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="plugins are Linux-only for now")


def host_with(plugin: Path, **extra: object) -> plughost.Host:
    declared = {"Name": "cplug", "Path": str(plugin), "BackoffMs": 5, **extra}
    return plughost.Host({"PlugHost": {"Plugins": {"Declared": [declared]}}})


def test_calls_crash_restart_stop_start(c_plugin: Path) -> None:
    changes = []
    with host_with(c_plugin) as host:
        subscription = host.subscribe_plugin_states(lambda plugin, old, new, reason: changes.append((plugin, new)))
        assert host.plugin_state("cplug") == "running"
        assert host.call_plugin("cplug", "echo", b"ping") == b"ping"
        assert host.call_plugin("cplug", "upper", b"abc") == b"ABC"
        # A nested host-service call: the plugin stores its input in the host's storage.
        host.call_plugin("cplug", "store", b"plugin_c.value=kept")
        assert host.storage_get("plugin_c.value") == b"kept"
        before = int(host.call_plugin("cplug", "pid"))
        with pytest.raises(plughost.PluginCrashedError):
            host.call_plugin("cplug", "abort")
        assert host.call_plugin("cplug", "echo", b"back", timeout=20) == b"back"
        assert int(host.call_plugin("cplug", "pid")) != before
        # Listeners hear of a change right after it is made, on the thread that made it.
        deadline = time.monotonic() + 5
        while ("cplug", "running") not in changes[changes.index(("cplug", "restarting")) :]:
            assert time.monotonic() < deadline, changes
            time.sleep(0.005)
        with pytest.raises(plughost.PluginFailedError, match="no such command"):
            host.call_plugin("cplug", "no-such-command")
        with pytest.raises(plughost.PluginNotFoundError):
            host.call_plugin("nobody", "echo")
        listed = host.plugins()
        assert listed[0]["name"] == "cplug" and listed[0]["crashes"] == 1 and listed[0]["rss_bytes"] > 0
        host.stop_plugin("cplug")
        assert host.plugin_state("cplug") == "stopped"
        with pytest.raises(plughost.PluginNotRunningError):
            host.call_plugin("cplug", "echo")
        host.start_plugin("cplug")
        assert host.call_plugin("cplug", "echo", b"again") == b"again"
        subscription.close()
        count = len(changes)
        host.stop_plugin("cplug")
        assert len(changes) == count, "no callback after the subscription closed"
        health = host.health()
        assert health["plugins"][0]["state"] == "stopped"


def test_start_failures_and_bad_arguments(c_plugin: Path) -> None:
    config = {"PlugHost": {"Plugins": {"Declared": [{"Name": "ghost", "Path": "/no/such/plugin", "Restart": "never"}]}}}
    with plughost.Host(config) as host:
        assert host.plugin_state("ghost") == "crashed"
        with pytest.raises(plughost.PluginStartFailedError, match="/no/such/plugin"):
            host.start_plugin("ghost")
        with pytest.raises(plughost.PluginNotRunningError):
            host.call_plugin("ghost", "echo")
        with pytest.raises(TypeError):
            host.call_plugin(3, "echo")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            host.call_plugin("ghost", "echo", timeout=0)
    with pytest.raises(plughost.ConfigurationError, match="Restart: expected one of never, on-failure, always"):
        host_with(c_plugin, Restart="sometimes")
