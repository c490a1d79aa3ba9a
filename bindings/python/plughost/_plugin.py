"""Writing an out-of-process plugin in Python: a script the plughost host starts with an IPC
session. :func:`run_plugin` serves the host's calls until it is told to stop, and returns the
exit code for the process; :class:`PluginHost` reaches the host's log, storage, services and
event bus while it runs::

    import sys
    import plughost

    def process(command: str, payload: bytes) -> bytes:
        if command == "upper":
            return payload.upper()
        if command == "remember":
            plughost.PluginHost.storage_set("upper.last", payload)
            return b""
        raise plughost.UnknownCommandError(f"no command {command}", 105, "PLUGHOST_ERR_MODULE_UNKNOWN_COMMAND")

    sys.exit(plughost.run_plugin(process))

An exception in a callback becomes the caller's error (with the status of a plughost error, else
``PLUGHOST_ERR_SERVICE_FAILED``). Standard output and error are captured by the host into its log.
"""

from __future__ import annotations

import ctypes
from ctypes import byref, c_uint64
from typing import Callable, Optional

from . import _callbacks, _ffi
from ._callbacks import Event
from ._errors import KeyNotFoundError
from ._host import BytesLike, _data, _utf8, take_buffer

lib = _ffi.lib

#: Log levels of :meth:`PluginHost.log`.
ERROR, WARN, INFO, DEBUG, TRACE = 1, 2, 3, 4, 5


class _Plugin:
    """The callables behind one ``plughost_plugin_def``."""

    def __init__(
        self,
        process: Callable[[str, bytes], Optional[BytesLike]],
        initialize: Optional[Callable[[str], None]],
        shutdown: Optional[Callable[[], None]],
    ) -> None:
        self._process, self._initialize, self._shutdown = process, initialize, shutdown

    def initialize(self, config: str) -> None:
        if self._initialize is not None:
            self._initialize(config)

    def process(self, command: str, payload: bytes) -> Optional[BytesLike]:
        return self._process(command, payload)

    def shutdown(self) -> None:
        if self._shutdown is not None:
            self._shutdown()


def run_plugin(
    process: Callable[[str, bytes], Optional[BytesLike]],
    initialize: Optional[Callable[[str], None]] = None,
    shutdown: Optional[Callable[[], None]] = None,
) -> int:
    """Run this process as the plugin the host started: ``initialize(config_json_text)`` once,
    ``process(command, payload) -> bytes`` for each command (possibly from several threads),
    ``shutdown()`` once at the end. Returns when the session ends, with the exit code to pass to
    ``sys.exit``: 0 after the host's shutdown or goodbye, 1 when the session failed, 2 when the
    plugin could not start (the reason is printed on standard error)."""
    token = _callbacks.register(_Plugin(process, initialize, shutdown))
    try:
        definition = _ffi.plughost_plugin_def(
            _ffi.PLUGIN_ABI_VERSION,
            ctypes.sizeof(_ffi.plughost_plugin_def),
            token,
            _callbacks.PLUGIN_INITIALIZE,
            _callbacks.PLUGIN_PROCESS,
            _callbacks.PLUGIN_SHUTDOWN,
        )
        return int(lib.plughost_plugin_run(byref(definition)))
    finally:
        _callbacks.release(token)


class PluginHost:
    """The host's services for the plugin :func:`run_plugin` runs; usable from any thread (also
    inside the plugin's callbacks) while it runs, else they raise ``InvalidHandleError``. A failure
    on the host's side raises the error of the host's status."""

    @staticmethod
    def name() -> str:
        """The plugin's name, as the host knows it."""
        out = c_uint64()
        lib.plughost_plugin_name(byref(out))
        return take_buffer(out.value).decode("utf-8")

    @staticmethod
    def log(level: int, message: str) -> None:
        """Log ``message`` under the plugin's name at ``level`` (:data:`ERROR` .. :data:`TRACE`)."""
        raw = _utf8(message, "message")
        lib.plughost_plugin_log(level, raw, len(raw))

    @staticmethod
    def error(message: str) -> None:
        """Log an error."""
        PluginHost.log(ERROR, message)

    @staticmethod
    def warn(message: str) -> None:
        """Log a warning."""
        PluginHost.log(WARN, message)

    @staticmethod
    def info(message: str) -> None:
        """Log information."""
        PluginHost.log(INFO, message)

    @staticmethod
    def debug(message: str) -> None:
        """Log debugging detail."""
        PluginHost.log(DEBUG, message)

    @staticmethod
    def storage_get(key: str) -> Optional[bytes]:
        """The value stored under ``key`` in the host's storage, or ``None``."""
        raw = _utf8(key, "key")
        out = c_uint64()
        try:
            lib.plughost_plugin_storage_get(raw, len(raw), byref(out))
        except KeyNotFoundError:
            return None
        return take_buffer(out.value)

    @staticmethod
    def storage_set(key: str, value: BytesLike) -> None:
        """Store ``value`` under ``key`` in the host's storage."""
        raw, data = _utf8(key, "key"), _data(value, "value")
        lib.plughost_plugin_storage_set(raw, len(raw), data, len(data))

    @staticmethod
    def call_service(name: str, payload: Optional[BytesLike] = None) -> bytes:
        """Call the host's service ``name``; its result."""
        raw, data = _utf8(name, "name"), _data(payload, "payload")
        out = c_uint64()
        lib.plughost_plugin_call_service(raw, len(raw), data, len(data), byref(out))
        return take_buffer(out.value)

    @staticmethod
    def publish(topic: str, payload: Optional[BytesLike] = None) -> int:
        """Publish ``payload`` under ``topic`` on the host's bus; how many subscribers it reached."""
        raw, data = _utf8(topic, "topic"), _data(payload, "payload")
        reached = c_uint64()
        lib.plughost_plugin_publish(raw, len(raw), data, len(data), byref(reached))
        return reached.value

    @staticmethod
    def subscribe(topic: str, handler: Callable[[Event], None]) -> int:
        """Call ``handler(event)`` for the host's bus events of ``topic`` (``*`` for all); the
        subscription's id. The handler runs on the thread that reads the event."""
        raw = _utf8(topic, "topic")
        out = c_uint64()
        with _callbacks.registered(handler) as token:
            lib.plughost_plugin_subscribe(raw, len(raw), _callbacks.EVENT, token, _callbacks.DESTROY, byref(out))
        return out.value

    @staticmethod
    def unsubscribe(subscription: int) -> None:
        """End a subscription."""
        lib.plughost_plugin_unsubscribe(subscription)
