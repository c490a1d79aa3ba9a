"""Out-of-process plugins, from the host's side: the plugin methods of :class:`plughost.Host`."""

from __future__ import annotations

import json
from ctypes import byref, c_uint32, c_uint64
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from . import _callbacks, _ffi

if TYPE_CHECKING:
    from ._host import Subscription

lib = _ffi.lib

#: ``PLUGHOST_PLUGIN_*`` state numbers -> names (as health and :meth:`PluginsMixin.plugins` show them).
PLUGIN_STATES: Dict[int, str] = {
    _ffi.PLUGIN_STOPPED: "stopped",
    _ffi.PLUGIN_STARTING: "starting",
    _ffi.PLUGIN_INITIALIZING: "initializing",
    _ffi.PLUGIN_RUNNING: "running",
    _ffi.PLUGIN_SHUTTING_DOWN: "shutting_down",
    _ffi.PLUGIN_CRASHED: "crashed",
    _ffi.PLUGIN_RESTARTING: "restarting",
}

#: The event bus topic of plugin state changes.
PLUGIN_STATE_TOPIC = "plughost.plugin.state"


class PluginsMixin:
    """Plugin methods; :class:`plughost.Host` has them. Plugins are declared in the configuration
    (``PlugHost.Plugins``) or found through ``plugin.toml`` manifests."""

    def _handle(self) -> Any:  # pragma: no cover - provided by Host
        raise NotImplementedError

    @staticmethod
    def _name(name: str) -> bytes:
        if not isinstance(name, str):
            raise TypeError(f"a plugin name must be str, not {type(name).__name__}")
        return name.encode("utf-8")

    def start_plugin(self, name: str) -> None:
        """Start plugin ``name`` and wait until it runs (``PluginStartFailedError`` says why not)."""
        raw = self._name(name)
        lib.plughost_plugin_start(self._handle(), raw, len(raw))

    def stop_plugin(self, name: str) -> None:
        """Stop plugin ``name`` gracefully (killed after its shutdown timeout)."""
        raw = self._name(name)
        lib.plughost_plugin_stop(self._handle(), raw, len(raw))

    def call_plugin(self, name: str, command: str, input: Optional[bytes] = None, timeout: Optional[float] = None) -> bytes:
        """Run ``command`` of plugin ``name`` with ``input``; its answer. ``timeout`` in seconds
        (``None``: the plugin's ``CallTimeoutMs``). Raises ``PluginFailedError`` (its own
        failure), ``PluginCrashedError`` (it ended during the call), ``PluginNotRunningError``, ..."""
        raw, cmd = self._name(name), command.encode("utf-8")
        data = bytes(input or b"")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive (or None for the plugin's default)")
        millis = 0 if timeout is None else max(1, min(int(timeout * 1000), 0xFFFFFFFF))
        out = c_uint64()
        lib.plughost_plugin_call(self._handle(), raw, len(raw), cmd, len(cmd), data, len(data), millis, byref(out))
        from ._host import take_buffer

        return take_buffer(out.value)

    def plugin_state(self, name: str) -> str:
        """The state of plugin ``name``: ``stopped``, ``starting``, ``initializing``, ``running``,
        ``shutting_down``, ``crashed`` or ``restarting``."""
        raw = self._name(name)
        state = c_uint32()
        lib.plughost_plugin_state(self._handle(), raw, len(raw), byref(state))
        return PLUGIN_STATES.get(state.value, f"unknown ({state.value})")

    def plugins(self) -> List[Dict[str, Any]]:
        """Every plugin: ``name``, ``state``, ``reason``, ``pid``, restarts, crashes, calls, ``cpu_ms``,
        ``rss_bytes``, ..."""
        out = c_uint64()
        lib.plughost_plugin_list(self._handle(), byref(out))
        from ._host import take_buffer

        return json.loads(take_buffer(out.value))

    def subscribe_plugin_states(self, callback: Callable[[str, str, str, str], None]) -> "Subscription":
        """Call ``callback(plugin, from_state, to_state, reason)`` on every plugin state change, on
        the thread that caused it. Returns a subscription to close."""
        from ._host import Subscription

        def deliver(plugin: str, old: int, new: int, reason: str) -> None:
            callback(plugin, PLUGIN_STATES.get(old, str(old)), PLUGIN_STATES.get(new, str(new)), reason)

        subscription = c_uint64()
        with _callbacks.registered(deliver) as token:
            lib.plughost_plugin_subscribe_states(
                self._handle(), _callbacks.PLUGIN_STATE, token, _callbacks.DESTROY, byref(subscription)
            )
        return Subscription(self, subscription.value, PLUGIN_STATE_TOPIC, lib.plughost_plugin_unsubscribe_states)  # type: ignore[arg-type]
