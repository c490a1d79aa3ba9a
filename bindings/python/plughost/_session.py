"""IPC sessions: :class:`Session`, either peer of a shared-memory session.

Peer A creates the session (:meth:`Session.create`) and starts the peer process with it
(:meth:`Session.spawn`); peer B, in that process, attaches (:meth:`Session.attach`). Both then
call each other's services, publish events, and serve. Built and tested on Linux; the native
Windows sessions are written but not yet built or tested (there the spawned peer's standard input
carries the hand-off).
"""

from __future__ import annotations

import atexit
import json
import sys
import threading
import weakref
from ctypes import byref, c_uint32, c_uint64
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Union

from . import _callbacks, _ffi
from ._errors import IpcClosedError, SessionClosedError
from ._host import BytesLike, _data, _utf8, take_buffer

lib = _ffi.lib

Options = Union[None, str, bytes, Mapping[str, Any]]

#: ``channel`` of :meth:`Session.on_event` for every channel without a handler of its own.
EVERY_CHANNEL = _ffi.SESSION_EVERY_CHANNEL
#: The data channel used unless one is named (0 is the session's control channel).
DATA_CHANNEL = _ffi.SESSION_DATA_CHANNEL

_live_sessions: "weakref.WeakSet[Session]" = weakref.WeakSet()


def _options(options: Options) -> bytes:
    if options is None:
        return b""
    if isinstance(options, (str, bytes)):
        return _utf8(options, "options")
    return json.dumps(dict(options)).encode("utf-8")


def _millis(timeout: float) -> int:
    if timeout < 0:
        raise ValueError("timeout must not be negative")
    return min(int(timeout * 1000), 0xFFFFFFFF)


@atexit.register
def _close_live_sessions() -> None:
    # Free sessions while the interpreter still runs, so no handler or destroy callback reaches
    # Python during its shutdown.
    for session in list(_live_sessions):
        try:
            session.close()
        except Exception:
            pass


class Session:
    """One side of an IPC session. Make it with :meth:`create` (peer A) or :meth:`attach`
    (peer B), not directly.

    ``options`` (both) is the ``PlugHost.Ipc`` settings object: a dict, JSON text, or ``None`` for
    the defaults (``RingCapacity``, ``InlineMax``, ``SlotClasses``, ``HeartbeatIntervalMs``,
    ``HeartbeatTimeoutMs``, ``ConnectTimeoutMs``, ``ReplyTimeoutMs``, ``SpinCount``); both peers
    must use the same geometry. Use it as a context manager or call :meth:`close`. Methods may be
    called from any thread. Timeouts are in seconds.
    """

    _ptr: Optional[Any] = None

    def __init__(self, ptr: Any) -> None:
        self._ptr = ptr
        self.pid: Optional[int] = None
        """Peer A: the process id of the peer started by :meth:`spawn`."""
        _live_sessions.add(self)

    @classmethod
    def create(cls, options: Options = None) -> "Session":
        """Peer A: a new session; start its peer with :meth:`spawn`."""
        text = _options(options)
        ptr = _ffi.P_session()
        lib.plughost_session_create(text or None, len(text), byref(ptr))
        return cls(ptr)

    @classmethod
    def attach(cls, options: Options = None) -> "Session":
        """Peer B: attach to the session the parent process handed over when it started this one."""
        text = _options(options)
        ptr = _ffi.P_session()
        lib.plughost_session_attach(text or None, len(text), byref(ptr))
        return cls(ptr)

    def _handle(self) -> Any:
        ptr = self._ptr
        if ptr is None:
            raise SessionClosedError()
        return ptr

    # --- peer A ---

    def spawn(self, program: str, args: Sequence[str] = ()) -> int:
        """Peer A: start ``program`` with ``args`` as the peer (once per session); its process id.
        The child inherits standard input, output and error; it is reaped when the session is
        closed (after 2 s it is killed)."""
        raw = _utf8(program, "program")
        arguments = json.dumps([str(a) for a in args]).encode("utf-8")
        pid = c_uint32()
        lib.plughost_session_spawn(self._handle(), raw, len(raw), arguments, len(arguments), byref(pid))
        self.pid = pid.value
        return pid.value

    # --- calls and events ---

    def call(
        self, service: str, method: str, payload: Optional[BytesLike] = None, *, channel: int = DATA_CHANNEL,
        timeout: float = 30.0,
    ) -> bytes:
        """Call ``service``.``method`` on the peer and return its answer. While waiting, this thread
        serves the peer's requests (nested calls). Raises ``IpcRemoteFailedError`` when the peer's
        handler fails, ``ServiceNotFoundError``, ``IpcTimeoutError``, ``IpcPeerDeadError``, ..."""
        s, m, data = _utf8(service, "service"), _utf8(method, "method"), _data(payload, "payload")
        out = c_uint64()
        lib.plughost_session_call(
            self._handle(), channel, s, len(s), m, len(m), data, len(data), _millis(timeout), byref(out)
        )
        return take_buffer(out.value)

    def publish(
        self, topic: str, payload: Optional[BytesLike] = None, *, channel: int = DATA_CHANNEL, timeout: float = 10.0
    ) -> None:
        """Send the event ``topic`` with ``payload`` to the peer (waits for room at most ``timeout``)."""
        t, data = _utf8(topic, "topic"), _data(payload, "payload")
        lib.plughost_session_publish(self._handle(), channel, t, len(t), data, len(data), _millis(timeout))

    def register(
        self, service: str, handler: Callable[[str, bytes], Optional[BytesLike]], *, channel: int = DATA_CHANNEL
    ) -> None:
        """Serve ``service``: ``handler(method, payload) -> bytes`` answers the peer's calls on
        ``channel``. An exception becomes the caller's error (with the status of a plughost error,
        else ``PLUGHOST_ERR_SERVICE_FAILED``). It runs on the thread reading the request."""
        raw = _utf8(service, "service")
        ptr = self._handle()
        with _callbacks.registered(handler) as token:
            lib.plughost_session_register(ptr, channel, raw, len(raw), _callbacks.SESSION_HANDLER, token, _callbacks.DESTROY)

    def unregister(self, service: str, *, channel: int = DATA_CHANNEL) -> None:
        """Stop serving ``service`` on ``channel`` (``ServiceNotFoundError`` if it was not)."""
        raw = _utf8(service, "service")
        lib.plughost_session_unregister(self._handle(), channel, raw, len(raw))

    def on_event(self, handler: Callable[[str, bytes], None], *, channel: int = EVERY_CHANNEL) -> None:
        """Receive the peer's events as ``handler(topic, payload)``, on ``channel`` or (default) on
        every channel without a handler of its own; replaces the previous handler."""
        ptr = self._handle()
        with _callbacks.registered(handler) as token:
            lib.plughost_session_on_event(ptr, channel, _callbacks.SESSION_EVENT, token, _callbacks.DESTROY)

    # --- serving and state ---

    def serve(self, timeout: float) -> None:
        """Serve the peer's requests and events on this thread for ``timeout`` seconds; raises the
        session's ending error (``IpcClosedError`` after the peer's goodbye) as soon as it ends."""
        lib.plughost_session_serve(self._handle(), _millis(timeout))

    def serve_forever(self) -> None:
        """Peer B's run loop: serve until the peer says goodbye (returns) or the session breaks
        (raises)."""
        try:
            while True:
                self.serve(1.0)
        except IpcClosedError:
            return

    def serve_in_background(self) -> None:
        """Serve on a plughost thread until the session ends."""
        lib.plughost_session_serve_in_background(self._handle())

    def check(self) -> None:
        """Raise the error that ended the session, if it ended."""
        lib.plughost_session_status(self._handle())

    def stats(self) -> Dict[str, Any]:
        """``open``, ``side``, ``peer_pid``, ``calls_in_flight`` and the ``stats`` counters."""
        out = c_uint64()
        lib.plughost_session_stats_json(self._handle(), byref(out))
        return json.loads(take_buffer(out.value))

    def peer_registry(self, timeout: float = 10.0) -> Dict[str, Any]:
        """The services the peer offers: ``{"services": [{"id", "channel", "name", "methods"}]}``."""
        out = c_uint64()
        lib.plughost_session_peer_registry_json(self._handle(), _millis(timeout), byref(out))
        return json.loads(take_buffer(out.value))

    # --- lifecycle ---

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran."""
        return self._ptr is None

    def close(self) -> None:
        """Say goodbye and free the session; a spawned peer gets 2 s to exit, then is killed.
        Idempotent. Not allowed from inside one of the session's handlers."""
        if self._ptr is None:
            return
        if _callbacks.in_callback():
            raise RuntimeError("a Session cannot be closed from inside a plughost callback")
        self._free()

    def _free(self) -> None:
        ptr, self._ptr = self._ptr, None
        if ptr is None:
            return
        _live_sessions.discard(self)
        lib.plughost_session_free(ptr)

    def __del__(self) -> None:
        if self._ptr is None or sys.is_finalizing():
            return
        if _callbacks.in_callback():
            threading.Thread(target=self._free, name="plughost-session-free", daemon=True).start()
        else:
            self._free()

    def __enter__(self) -> "Session":
        self._handle()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<plughost.Session {'closed' if self.closed else 'open'}>"
