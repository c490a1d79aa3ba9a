"""The idiomatic layer: :class:`Host`, :class:`Module`, :class:`Subscription`."""

from __future__ import annotations

import atexit
import concurrent.futures
import ctypes
import json
import logging
import os
import sys
import threading
import weakref
from ctypes import byref, c_size_t, c_uint32, c_uint64, c_void_p
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

from . import _callbacks, _ffi
from ._callbacks import Event
from ._errors import HostClosedError
from ._extensions import ExtensionsMixin
from ._plugins import PluginsMixin
from ._python import PythonMixin

lib = _ffi.lib

# A library leaves logging output to the application: without its configuration, nothing is printed.
logging.getLogger("plughost").addHandler(logging.NullHandler())

#: The Python level plughost's trace level (5) maps to.
TRACE = logging.DEBUG - 5
if logging.getLevelName(TRACE) == f"Level {TRACE}":
    logging.addLevelName(TRACE, "TRACE")

#: plughost log level (1 error .. 5 trace) -> Python logging level.
LOG_LEVELS: Dict[int, int] = {
    _ffi.LOG_ERROR: logging.ERROR,
    _ffi.LOG_WARN: logging.WARNING,
    _ffi.LOG_INFO: logging.INFO,
    _ffi.LOG_DEBUG: logging.DEBUG,
    _ffi.LOG_TRACE: TRACE,
}

_LEVEL_NAMES = {"off": 0, "error": 1, "warn": 2, "warning": 2, "info": 3, "debug": 4, "trace": 5}

Config = Union[None, str, bytes, Mapping[str, Any]]
BytesLike = Union[bytes, bytearray, memoryview]
PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


def logger_name(target: str) -> str:
    """The Python logger a plughost log target goes to: ``plughost.`` + the target, with Rust's
    ``::`` separators written as dots (``plughost::modules`` -> ``plughost.plughost.modules``,
    a module's logs -> ``plughost.<module name>``)."""
    target = target.replace("::", ".").strip(".")
    return f"plughost.{target}" if target else "plughost"


def log_to_logging(level: int, target: str, message: str) -> None:
    """The default log callback: hand a plughost log line to the ``logging`` module."""
    python_level = LOG_LEVELS.get(level, logging.INFO)
    logger = logging.getLogger(logger_name(target))
    if logger.isEnabledFor(python_level):
        logger.log(python_level, "%s", message)


def _utf8(text: Union[str, bytes], what: str) -> bytes:
    if isinstance(text, str):
        return text.encode("utf-8")
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    raise TypeError(f"{what} must be str, not {type(text).__name__}")


def _data(data: Optional[BytesLike], what: str) -> bytes:
    if data is None:
        return b""
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"{what} must be bytes-like, not {type(data).__name__} (encode text first)")


def _path(path: PathLike) -> bytes:
    path = os.fspath(path)
    return path.encode("utf-8") if isinstance(path, str) else path


def take_buffer(buffer: int) -> bytes:
    """Copy a ``plughost_buffer``'s bytes out and free it (always, even if reading fails)."""
    try:
        data = c_void_p()
        length = c_size_t()
        lib.plughost_buffer_data(buffer, byref(data), byref(length))
        return ctypes.string_at(data.value or 0, length.value) if length.value else b""
    finally:
        lib.plughost_buffer_free(buffer)


_live_hosts: "weakref.WeakSet[Host]" = weakref.WeakSet()


@atexit.register
def _close_live_hosts() -> None:
    # Free hosts while the interpreter still runs, so no destroy or log callback reaches Python
    # during its shutdown.
    for host in list(_live_hosts):
        try:
            host.close()
        except Exception:
            pass


class Host(PluginsMixin, PythonMixin, ExtensionsMixin):
    """A plughost host: modules, services, storage, events, health and logs.

    ``config`` is the JSON configuration (a ``{"PlugHost": {...}}`` document) as text, or a dict
    that is serialised to it, or ``None`` for all defaults. The thread creating the host becomes
    its main thread. With ``forward_logs`` (the default), plughost's logs go to the ``logging``
    module under ``plughost.<target>``.

    Use it as a context manager, or call :meth:`close`; a host that is garbage collected is closed
    too. Calls from any thread are allowed (except :meth:`pump`, main thread only).
    """

    _ptr: Optional[Any] = None

    def __init__(self, config: Config = None, *, forward_logs: bool = True) -> None:
        if config is None:
            text = b""
        elif isinstance(config, (str, bytes)):
            text = _utf8(config, "config")
        else:
            text = json.dumps(dict(config)).encode("utf-8")
        self._lock = threading.Lock()
        self._executor: Optional[concurrent.futures.ThreadPoolExecutor] = None
        ptr = _ffi.P_host()
        lib.plughost_host_new(text or None, len(text), byref(ptr))
        self._ptr = ptr
        _live_hosts.add(self)
        if forward_logs:
            self.set_log_callback(log_to_logging)

    # --- lifecycle ---

    def _handle(self) -> Any:
        ptr = self._ptr
        if ptr is None:
            raise HostClosedError("the host is closed; create a new Host")
        return ptr

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran."""
        return self._ptr is None

    def close(self) -> None:
        """Stop and free the host: modules are drained and unloaded, services, subscriptions and
        callbacks released. Idempotent. Not allowed from inside a plughost callback."""
        if self._ptr is None:
            return
        if _callbacks.in_callback():
            raise RuntimeError("a Host cannot be closed from inside a plughost callback")
        self._free()

    def _free(self) -> None:
        ptr, self._ptr = self._ptr, None
        if ptr is None:
            return
        _live_hosts.discard(self)
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            # Queued calls are cancelled; running ones finish (or fail, the host being gone).
            executor.shutdown(wait=False, cancel_futures=True)
        lib.plughost_host_free(ptr)

    def __del__(self) -> None:
        if self._ptr is None or sys.is_finalizing():
            return
        if _callbacks.in_callback():
            # Freeing waits for calls running on the host, possibly this one: free elsewhere.
            threading.Thread(target=self._free, name="plughost-free", daemon=True).start()
        else:
            self._free()

    def __enter__(self) -> "Host":
        self._handle()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<plughost.Host {'closed' if self.closed else 'open'}>"

    # --- modules ---

    def load_module(self, path: PathLike) -> "Module":
        """Load the work module at ``path`` (inside a trusted root) and return it."""
        raw = _path(path)
        module_id = c_uint64()
        lib.plughost_module_load(self._handle(), raw, len(raw), byref(module_id))
        return Module(self, module_id.value, os.fsdecode(raw))

    # --- watching module files ---

    def set_watching(self, enabled: bool) -> None:
        """Switch watching the modules' files on or off (``Modules.Watch.Enabled`` sets it at
        start). While on, a module whose file (or a sibling library copied with it) changed is
        reloaded once the files have been quiet for ``DebounceMs``; the outcome is published on the
        bus as ``plughost.module.reloading``, then ``plughost.module.reloaded`` or
        ``plughost.module.rolled_back`` (JSON payloads; see :meth:`subscribe`)."""
        lib.plughost_host_set_watching(self._handle(), 1 if enabled else 0)

    @property
    def watching(self) -> bool:
        """Whether the modules' files are being watched (see :meth:`set_watching`)."""
        enabled = c_uint32()
        lib.plughost_host_watching(self._handle(), byref(enabled))
        return bool(enabled.value)

    # --- health and logs ---

    def health_json(self) -> str:
        """The health report as JSON text."""
        buffer = c_uint64()
        lib.plughost_host_health(self._handle(), byref(buffer))
        return take_buffer(buffer.value).decode("utf-8")

    def health(self) -> Dict[str, Any]:
        """The health report, parsed: ``status``, ``reasons``, ``profile``, ``modules``,
        ``process``, ``last_check``, ..."""
        return json.loads(self.health_json())

    def check_health(self) -> Dict[str, Any]:
        """Run a health check now, as the monitor does every ``Health.IntervalMs``: every
        component probe, then recovery of what they found (restart crashed plugins, retry failed
        reloads, up to ``Health.MaxRetryAttempts`` each). Returns the check, parsed: ``run``,
        ``trigger``, ``status``, ``probes`` (``component``, ``status``, ``detail``, ``faults``) and
        ``recoveries`` (``target``, ``action``, ``attempt``, ``outcome``, ``detail``). Waits for a
        check in progress; transitions are published on ``plughost.health.transition`` and
        recovery outcomes on ``plughost.health.recovery``."""
        buffer = c_uint64()
        lib.plughost_host_health_check(self._handle(), byref(buffer))
        return json.loads(take_buffer(buffer.value).decode("utf-8"))

    def health_history(self) -> List[Dict[str, Any]]:
        """The kept health checks (up to ``Health.HistorySize``), oldest first, each as
        :meth:`check_health` returns it."""
        buffer = c_uint64()
        lib.plughost_host_health_history(self._handle(), byref(buffer))
        return json.loads(take_buffer(buffer.value).decode("utf-8"))

    def set_log_level(self, level: Union[int, str]) -> None:
        """Set the level plughost logs at: 0-5 or ``"off"``, ``"error"``, ``"warn"``, ``"info"``,
        ``"debug"``, ``"trace"``."""
        if isinstance(level, str):
            try:
                level = _LEVEL_NAMES[level.lower()]
            except KeyError:
                raise ValueError(f"unknown log level {level!r}; use one of {', '.join(_LEVEL_NAMES)}") from None
        lib.plughost_host_set_log_level(self._handle(), level)

    def set_log_callback(self, callback: Optional[Callable[[int, str, str], None]]) -> None:
        """Receive every plughost log line of the process as ``callback(level, target, message)``
        (level 1 error .. 5 trace), on the thread that logged; ``None`` stops it.
        :func:`log_to_logging` is the default."""
        self._set_callback(lib.plughost_host_set_log_callback, _callbacks.LOG, _ffi.NULL_LOG_CALLBACK, callback)

    def _set_callback(self, setter: Callable[..., Any], trampoline: Any, no_trampoline: Any, callback: Any) -> None:
        """Install ``callback`` with one of the host's set-callback functions, or remove the
        current one when ``callback`` is ``None``."""
        ptr = self._handle()
        if callback is None:
            setter(ptr, no_trampoline, None, _ffi.NULL_DESTROY_CALLBACK)
            return
        with _callbacks.registered(callback) as token:
            setter(ptr, trampoline, token, _callbacks.DESTROY)

    # --- services and the main thread ---

    def register_service(self, name: str, function: Callable[[bytes], BytesLike], main_thread: bool = False) -> None:
        """Register ``function(input: bytes) -> bytes`` as service ``name``, reachable from modules
        and :meth:`call_service`. An exception it raises becomes the service's error message. With
        ``main_thread``, it runs only on the host's main thread (see :meth:`pump`)."""
        raw = _utf8(name, "name")
        flags = _ffi.SERVICE_MAIN_THREAD if main_thread else 0
        with _callbacks.registered(function) as token:
            lib.plughost_service_register(
                self._handle(), raw, len(raw), flags, _callbacks.SERVICE, token, _callbacks.DESTROY
            )

    def unregister_service(self, name: str) -> None:
        """Remove a service; calls in flight finish first."""
        raw = _utf8(name, "name")
        lib.plughost_service_unregister(self._handle(), raw, len(raw))

    def call_service(self, name: str, input: Optional[BytesLike] = b"") -> bytes:
        """Call a service as a module would and return its result."""
        raw = _utf8(name, "name")
        data = _data(input, "input")
        buffer = c_uint64()
        lib.plughost_service_call(self._handle(), raw, len(raw), data, len(data), byref(buffer))
        return take_buffer(buffer.value)

    def set_main_thread(self) -> None:
        """Make the calling thread the host's main thread."""
        lib.plughost_host_set_main_thread(self._handle())

    def pump(self, max_calls: int = 0) -> int:
        """Run up to ``max_calls`` queued main-thread service calls (0: all queued now); return how
        many ran. Main thread only (:class:`WrongThreadError` elsewhere)."""
        ran = c_uint32()
        lib.plughost_host_pump(self._handle(), max_calls, byref(ran))
        return ran.value

    def set_pump_callback(self, callback: Optional[Callable[[], None]]) -> None:
        """Be told (``callback()``, on the queueing thread) that a main-thread call waits for a
        :meth:`pump`; ``None`` stops it."""
        self._set_callback(lib.plughost_host_set_pump_callback, _callbacks.PUMP, _ffi.NULL_PUMP_CALLBACK, callback)

    # --- storage and events ---

    def storage_get(self, key: str) -> bytes:
        """The value of ``key`` (:class:`KeyNotFoundError`, also a ``KeyError``, if absent)."""
        raw = _utf8(key, "key")
        buffer = c_uint64()
        lib.plughost_storage_get(self._handle(), raw, len(raw), byref(buffer))
        return take_buffer(buffer.value)

    def storage_set(self, key: str, value: BytesLike) -> None:
        """Set ``key`` to ``value`` (:class:`LimitReachedError` past ``Storage.MaxBytes``)."""
        raw = _utf8(key, "key")
        data = _data(value, "value")
        lib.plughost_storage_set(self._handle(), raw, len(raw), data, len(data))

    def publish(self, topic: str, payload: Optional[BytesLike] = b"") -> None:
        """Publish an event from the host; subscribers run before this returns."""
        raw = _utf8(topic, "topic")
        data = _data(payload, "payload")
        lib.plughost_event_publish(self._handle(), raw, len(raw), data, len(data))

    def subscribe(self, topic: str, callback: Callable[[Event], None]) -> "Subscription":
        """Call ``callback(event)`` for every event on ``topic`` (``"*"``: all topics), on the
        publishing thread."""
        raw = _utf8(topic, "topic")
        subscription = c_uint64()
        with _callbacks.registered(callback) as token:
            lib.plughost_event_subscribe(
                self._handle(), raw, len(raw), _callbacks.EVENT, token, _callbacks.DESTROY, byref(subscription)
            )
        return Subscription(self, subscription.value, raw.decode("utf-8"))

    # --- the pool behind Module.execute_async ---

    def _pool(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            self._handle()
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="plughost")
            return self._executor


class Module:
    """A loaded work module. Its :attr:`id` stays the same across reloads and is invalid (calls
    raise :class:`InvalidHandleError`) once the module is unloaded."""

    def __init__(self, host: Host, module_id: int, path: str) -> None:
        self.host = host
        self.id = module_id
        self.path = path

    def execute(self, command: str, input: Optional[BytesLike] = b"") -> bytes:
        """Run ``command`` with ``input`` on the calling thread and return its output."""
        raw = _utf8(command, "command")
        data = _data(input, "input")
        buffer = c_uint64()
        lib.plughost_module_execute(self.host._handle(), self.id, raw, len(raw), data, len(data), byref(buffer))
        return take_buffer(buffer.value)

    def execute_text(self, command: str, text: str = "") -> str:
        """:meth:`execute` with UTF-8 text in and out."""
        return self.execute(command, text.encode("utf-8")).decode("utf-8")

    def execute_async(self, command: str, input: Optional[BytesLike] = b"") -> "concurrent.futures.Future[bytes]":
        """Run :meth:`execute` on the host's small thread pool (4 threads) and return a future.

        A convenience over the blocking call (the C ABI has no non-blocking form yet). The pool's
        threads live until the host closes: a module keeping thread-local values with destructors
        on them stays mapped after unload (reported as pinned in health).
        """
        data = _data(input, "input")
        return self.host._pool().submit(self.execute, command, data)

    def reload(self, path: Optional[PathLike] = None) -> int:
        """Reload from ``path``, or from the module's current source; return the new generation.
        On failure the old generation keeps serving and the error says why."""
        generation = c_uint64()
        if path is None:
            lib.plughost_module_reload(self.host._handle(), self.id, None, 0, byref(generation))
        else:
            raw = _path(path)
            lib.plughost_module_reload(self.host._handle(), self.id, raw, len(raw), byref(generation))
            self.path = os.fsdecode(raw)
        return generation.value

    def unload(self) -> None:
        """Unload the module; its id is invalid at once."""
        lib.plughost_module_unload(self.host._handle(), self.id)

    def __repr__(self) -> str:
        return f"<plughost.Module id={self.id:#x} path={self.path!r}>"


class Subscription:
    """An event subscription; :meth:`close` (or leaving a ``with`` block) ends it."""

    def __init__(
        self, host: Host, subscription_id: int, topic: str, unsubscribe: Optional[Callable[[Any, int], Any]] = None
    ) -> None:
        self.host = host
        self.id = subscription_id
        self.topic = topic
        self.closed = False
        self._unsubscribe = unsubscribe or lib.plughost_event_unsubscribe

    def close(self) -> None:
        """End the subscription (idempotent; nothing to do once the host is closed)."""
        if self.closed:
            return
        self.closed = True
        try:
            self._unsubscribe(self.host._handle(), self.id)
        except HostClosedError:
            pass  # the host released every subscription when it closed

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<plughost.Subscription id={self.id} topic={self.topic!r}{' closed' if self.closed else ''}>"
