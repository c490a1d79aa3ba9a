"""Python callables behind the C callbacks.

Native code gets one of the module-level trampolines below (CFUNCTYPE objects that live as long
as the process, so a late call can never reach freed code) together with an integer token as its
``user_data``. The token maps to the Python callable in :data:`_registry`; the entry is removed by
the destroy callback, which plughost calls exactly once when it no longer needs the pair (after
unregistering, replacing, or freeing the host, and also when registration fails).

No exception leaves a trampoline: a service's exception becomes the service's error message; an
exception in an event subscriber, a pump callback or a log callback is reported to the
``plughost.python`` logger (a log callback's is dropped, since it may come from logging itself).
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import logging
import threading
from typing import Any, Callable, Dict, Iterator, NamedTuple

from . import _ffi
from ._errors import ERR_SERVICE_FAILED

_registry: Dict[int, Callable[..., Any]] = {}
_tokens = itertools.count(1)
_local = threading.local()
_log = logging.getLogger("plughost.python")


class Event(NamedTuple):
    """An event delivered to a subscriber."""

    topic: str
    source: str
    """``"host"`` or the publishing module's name."""
    payload: bytes
    sequence: int
    """Grows with every event of the host."""


def register(function: Callable[..., Any]) -> int:
    """Keep ``function`` until its destroy callback runs; return the token to pass as user data."""
    token = next(_tokens)
    _registry[token] = function
    return token


def release(token: int) -> None:
    """Forget a token (idempotent; the destroy callback normally does this)."""
    _registry.pop(token, None)


@contextlib.contextmanager
def registered(function: Callable[..., Any]) -> Iterator[int]:
    """:func:`register` ``function`` for the native call made in the ``with`` block, and release
    it again if that raises."""
    token = register(function)
    try:
        yield token
    except BaseException:
        release(token)
        raise


def live_count() -> int:
    """How many callables native code may still call."""
    return len(_registry)


def in_callback() -> bool:
    """Whether the calling thread is inside a plughost callback."""
    return getattr(_local, "depth", 0) > 0


class _Inside:
    def __enter__(self) -> None:
        _local.depth = getattr(_local, "depth", 0) + 1

    def __exit__(self, *exc: object) -> None:
        _local.depth -= 1


_inside = _Inside()


def _text(pointer: int, length: int) -> str:
    return ctypes.string_at(pointer, length).decode("utf-8", "replace") if length else ""


def _bytes(pointer: int, length: int) -> bytes:
    return ctypes.string_at(pointer, length) if length else b""


def _destroy(user_data: int) -> None:
    try:
        release(user_data or 0)
    except BaseException:  # pragma: no cover - nothing can be done from here
        pass


def _answer(output: Any, call: Callable[[], Any]) -> int:
    """Run ``call()`` for a service-like callback and write its bytes to ``output``: 0 on
    success; on an exception, its text as the error and the status of a plughost error it is
    (``PLUGHOST_ERR_SERVICE_FAILED`` for any other)."""
    try:
        result = call()
        if result is None:
            result = b""
        if not isinstance(result, (bytes, bytearray, memoryview)):
            raise TypeError(f"a service must return bytes, not {type(result).__name__}")
        data = bytes(result)
        if data:
            _ffi.lib.plughost_output_write(output, data, len(data))
        return 0
    except BaseException as e:  # every failure, even KeyboardInterrupt, must stay in Python
        try:
            _log.debug("service callback raised", exc_info=True)
            message = (f"{type(e).__name__}: {e}" if str(e) else type(e).__name__).encode("utf-8", "replace")
            _ffi.lib.plughost_output_set_error(output, message, len(message))
        except BaseException:
            pass
        status = getattr(e, "status", None)
        return status if isinstance(status, int) and status > 0 else ERR_SERVICE_FAILED


def _function(user_data: int) -> Callable[..., Any]:
    function = _registry.get(user_data or 0)
    if function is None:
        raise RuntimeError("the service's Python callable is gone")
    return function


def _service(user_data: int, input_ptr: int, input_len: int, output: Any) -> int:
    with _inside:
        return _answer(output, lambda: _function(user_data)(_bytes(input_ptr, input_len)))


def _session_handler(
    user_data: int, method_ptr: int, method_len: int, input_ptr: int, input_len: int, output: Any
) -> int:
    with _inside:
        return _answer(
            output, lambda: _function(user_data)(_text(method_ptr, method_len), _bytes(input_ptr, input_len))
        )


def _plugin_state(
    user_data: int, plugin_ptr: int, plugin_len: int, old: int, new: int, reason_ptr: int, reason_len: int
) -> None:
    with _inside:
        try:
            function = _registry.get(user_data or 0)
            if function is not None:
                function(_text(plugin_ptr, plugin_len), old, new, _text(reason_ptr, reason_len))
        except BaseException:
            try:
                _log.exception("plugin state callback raised")
            except BaseException:
                pass


def _session_event(user_data: int, topic_ptr: int, topic_len: int, payload_ptr: int, payload_len: int) -> None:
    with _inside:
        try:
            function = _registry.get(user_data or 0)
            if function is not None:
                function(_text(topic_ptr, topic_len), _bytes(payload_ptr, payload_len))
        except BaseException:
            try:
                _log.exception("session event handler raised")
            except BaseException:
                pass


def _event(
    user_data: int,
    topic_ptr: int,
    topic_len: int,
    source_ptr: int,
    source_len: int,
    payload_ptr: int,
    payload_len: int,
    sequence: int,
) -> None:
    with _inside:
        try:
            function = _registry.get(user_data or 0)
            if function is not None:
                function(
                    Event(
                        _text(topic_ptr, topic_len),
                        _text(source_ptr, source_len),
                        _bytes(payload_ptr, payload_len),
                        sequence,
                    )
                )
        except BaseException:
            try:
                _log.exception("event subscriber raised")
            except BaseException:
                pass


def _plugin_initialize(user_data: int, config_ptr: int, config_len: int, error: Any) -> int:
    with _inside:
        return _answer(error, lambda: _function(user_data).initialize(_text(config_ptr, config_len)))


def _plugin_process(
    user_data: int, command_ptr: int, command_len: int, input_ptr: int, input_len: int, output: Any
) -> int:
    with _inside:
        return _answer(
            output,
            lambda: _function(user_data).process(_text(command_ptr, command_len), _bytes(input_ptr, input_len)),
        )


def _plugin_shutdown(user_data: int) -> None:
    with _inside:
        try:
            plugin = _registry.get(user_data or 0)
            if plugin is not None:
                plugin.shutdown()
        except BaseException:
            try:
                _log.exception("plugin shutdown raised")
            except BaseException:
                pass


def _pump(user_data: int) -> None:
    with _inside:
        try:
            function = _registry.get(user_data or 0)
            if function is not None:
                function()
        except BaseException:
            try:
                _log.exception("pump callback raised")
            except BaseException:
                pass


def _logged(user_data: int, level: int, target_ptr: int, target_len: int, message_ptr: int, message_len: int) -> None:
    with _inside:
        try:
            function = _registry.get(user_data or 0)
            if function is not None:
                function(level, _text(target_ptr, target_len), _text(message_ptr, message_len))
        except BaseException:
            pass


# The trampolines: created once, referenced for the life of the process.
DESTROY = _ffi.plughost_destroy_callback(_destroy)
SERVICE = _ffi.plughost_service_callback(_service)
EVENT = _ffi.plughost_event_callback(_event)
PUMP = _ffi.plughost_pump_callback(_pump)
LOG = _ffi.plughost_log_callback(_logged)
SESSION_HANDLER = _ffi.plughost_session_handler(_session_handler)
SESSION_EVENT = _ffi.plughost_session_event_callback(_session_event)
PLUGIN_STATE = _ffi.plughost_plugin_state_callback(_plugin_state)
PLUGIN_INITIALIZE = _ffi.plughost_service_callback(_plugin_initialize)
PLUGIN_PROCESS = _ffi.plughost_session_handler(_plugin_process)
PLUGIN_SHUTDOWN = _ffi.plughost_pump_callback(_plugin_shutdown)
