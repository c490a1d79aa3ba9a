"""Pooled Python: the ``run_python`` methods of :class:`plughost.Host`.

Scripts run in the host's pool of worker processes (``PlugHost.Python``), not in this
interpreter: a timeout kills the worker, not this process.
"""

from __future__ import annotations

import base64
import json
from ctypes import byref, c_uint32, c_uint64
from dataclasses import dataclass
from typing import Any, Dict, Optional, Union

from . import _ffi
from ._errors import PythonScriptError

lib = _ffi.lib


@dataclass(frozen=True)
class PythonResult:
    """What came of a run: its ``value`` (JSON data, or ``bytes``), its captured output, the
    worker that ran it and the time it took there."""

    value: Any
    stdout: str
    stderr: str
    truncated: bool
    worker: int
    duration_us: int


def _answer(raw: bytes) -> Dict[str, Any]:
    answer: Dict[str, Any] = json.loads(raw.decode("utf-8"))
    return answer


class PythonMixin:
    """Python pool methods; :class:`plughost.Host` has them."""

    def _handle(self) -> Any:  # pragma: no cover - provided by Host
        raise NotImplementedError

    def run_python(
        self,
        code: Optional[str] = None,
        *,
        file: Optional[str] = None,
        module: Optional[str] = None,
        function: Optional[str] = None,
        args: Any = None,
        kwargs: Optional[Dict[str, Any]] = None,
        session: Optional[str] = None,
        timeout: Optional[float] = None,
        filename: Optional[str] = None,
    ) -> PythonResult:
        """Run ``code`` (its last expression is the value), a ``file``, or ``function`` of
        ``module`` in the pool. ``args``: for code and files any JSON value the script sees as
        its global ``args``; for a function a list of positional arguments. ``session`` names
        globals that persist from run to run; ``timeout`` in seconds (``None``: the pool's).

        Raises :class:`PythonScriptError` when the script raised (with ``type_name``,
        ``traceback``, ``stdout``, ``stderr``), :class:`PlugHostTimeoutError`,
        :class:`PoolSaturatedError`, :class:`PythonUnavailableError`,
        :class:`PythonMemoryLimitError`, :class:`PythonWorkerCrashedError`,
        :class:`PythonSessionLostError`."""
        request: Dict[str, Any] = {}
        for key, value in (("code", code), ("file", file), ("module", module), ("function", function), ("filename", filename), ("session", session)):
            if value is not None:
                request[key] = value
        if args is not None:
            request["args"] = list(args) if isinstance(args, tuple) else args
        if kwargs is not None:
            request["kwargs"] = kwargs
        if timeout is not None:
            if timeout <= 0:
                raise ValueError("timeout must be positive (or None for the pool's TimeoutMs)")
            request["timeout_ms"] = max(1, int(timeout * 1000))
        raw = json.dumps(request).encode("utf-8")
        out = c_uint64()
        from ._host import take_buffer

        try:
            lib.plughost_python_run(self._handle(), raw, len(raw), byref(out))
        except PythonScriptError as e:
            answer = _answer(take_buffer(out.value))
            error = answer["error"]
            e.type_name, e.traceback = error["type"], error["traceback"]
            e.stdout, e.stderr = answer["stdout"], answer["stderr"]
            raise
        answer = _answer(take_buffer(out.value))
        value: Union[bytes, Any]
        if "result_base64" in answer:
            value = base64.b64decode(answer["result_base64"])
        else:
            value = answer["result"]
        return PythonResult(value, answer["stdout"], answer["stderr"], answer["truncated"], answer["worker"], answer["duration_us"])

    def drop_python_session(self, name: str) -> bool:
        """Forget the named session's globals; whether it existed."""
        raw = name.encode("utf-8")
        existed = c_uint32()
        lib.plughost_python_drop_session(self._handle(), raw, len(raw), byref(existed))
        return bool(existed.value)
