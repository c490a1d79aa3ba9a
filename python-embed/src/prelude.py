"""plughost's run logic, loaded once into the interpreter as `_plughost_prelude` (by a worker
process, or by the library itself in the in-process mode).

Runs may go on in several threads at once: `sys.stdout` and `sys.stderr` are replaced once by
dispatching writers that send what a thread writes to the capture of the run on that thread (by
`_thread.get_ident()`), and what other threads write to the stream they replaced. `run` answers
`(kind, payload, stdout, stderr, truncated)` where `kind` is `json` (payload: the result as JSON
text), `bytes`, or `raised` (payload: type name, message and traceback as JSON text).
"""

import _ast
import builtins
import io
import json
import sys
from _thread import allocate_lock, get_ident

_sessions = {}
_code_cache = {}
_CODE_CACHE_LIMIT = 256
# The file name this module is compiled under (see executor.rs); its frames are left out of
# tracebacks.
_FILENAME = "<plughost-prelude>"


class _Capture:
    """What one run wrote to one stream: at most `limit` characters; the rest is counted and cut
    off. Only `_Dispatch` writes to it (a plain object: one is made per stream per run)."""

    __slots__ = ("_parts", "_size", "_limit", "truncated")

    def __init__(self, limit):
        self._parts = []
        self._size = 0
        self._limit = limit
        self.truncated = False

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        room = self._limit - self._size
        if room > 0:
            self._parts.append(text[:room])
        if len(text) > max(room, 0):
            self.truncated = True
        self._size += len(text)
        return len(text)

    def getvalue(self):
        return "".join(self._parts)


class _Dispatch(io.TextIOBase):
    """Stands in for `sys.stdout` or `sys.stderr`: a thread with a run in progress writes to that
    run's capture, any other thread to the stream this one replaced (`None`: dropped)."""

    def __init__(self, fallback):
        self._fallback = fallback
        self.captures = {}

    def writable(self):
        return True

    def write(self, text):
        capture = self.captures.get(get_ident())
        if capture is not None:
            return capture.write(text)
        if self._fallback is None:
            return len(text)
        return self._fallback.write(text)

    def flush(self):
        if get_ident() not in self.captures and self._fallback is not None:
            self._fallback.flush()


_install_lock = allocate_lock()


def _dispatcher(name):
    """The dispatching writer installed as `sys.<name>`, installed again if someone replaced it."""
    stream = getattr(sys, name)
    if type(stream) is not _Dispatch:
        with _install_lock:
            stream = getattr(sys, name)
            if type(stream) is not _Dispatch:
                stream = _Dispatch(stream)
                setattr(sys, name, stream)
    return stream


def _compile(source, filename):
    """The code of `source`, and of its last statement when that is an expression (the run's
    result), compiled once per source and file name."""
    key = (source, filename)
    cached = _code_cache.get(key)
    if cached is None:
        tree = compile(source, filename, "exec", _ast.PyCF_ONLY_AST)
        last = None
        if tree.body and isinstance(tree.body[-1], _ast.Expr):
            last = compile(_ast.Expression(tree.body.pop().value), filename, "eval")
        cached = (compile(tree, filename, "exec"), last)
        if len(_code_cache) >= _CODE_CACHE_LIMIT:
            _code_cache.clear()
        _code_cache[key] = cached
    return cached


def _globals(session, filename):
    if session is not None and session in _sessions:
        return _sessions[session]
    scope = {"__name__": "__main__", "__builtins__": builtins, "__file__": filename}
    if session is not None:
        _sessions[session] = scope
    return scope


def _execute(kind, first, second, args_json, kwargs_json, session):
    if kind == "function":
        args = json.loads(args_json)
        kwargs = json.loads(kwargs_json)
        if not isinstance(args, list):
            raise TypeError("the arguments of a function must be a JSON array")
        if not isinstance(kwargs, dict):
            raise TypeError("the keyword arguments of a function must be a JSON object")
        __import__(first)
        return getattr(sys.modules[first], second)(*args, **kwargs)
    if kind == "file":
        filename = first
        with open(first, "rb") as f:
            source = f.read().decode("utf-8")
    else:
        source, filename = first, second
    body, last = _compile(source, filename)
    scope = _globals(session, filename)
    scope["args"] = None if args_json == "null" else json.loads(args_json)
    exec(body, scope)
    return eval(last, scope) if last is not None else None


def _encode(value):
    if value is None:
        return "json", b"null"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes", bytes(value)
    try:
        return "json", json.dumps(value, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise TypeError(f"the result is not JSON-compatible: {e}") from None


def run(kind, first, second, args_json, kwargs_json, session, max_output):
    out, err = _Capture(max_output), _Capture(max_output)
    ident = get_ident()
    stdout, stderr = _dispatcher("stdout"), _dispatcher("stderr")
    stdout.captures[ident], stderr.captures[ident] = out, err
    try:
        answer, payload = _encode(_execute(kind, first, second, args_json, kwargs_json, session))
    except BaseException as e:  # noqa: B036 - the script's every exception is its answer
        import traceback

        frames = e.__traceback__
        while frames is not None and frames.tb_frame.f_code.co_filename == _FILENAME:
            frames = frames.tb_next
        text = "".join(traceback.format_exception(type(e), e, frames))
        answer = "raised"
        payload = json.dumps({"kind": type(e).__name__, "message": str(e), "traceback": text}).encode("utf-8")
    finally:
        stdout.captures.pop(ident, None)
        stderr.captures.pop(ident, None)
    return answer, payload, out.getvalue(), err.getvalue(), out.truncated or err.truncated


def drop_session(name):
    return _sessions.pop(name, None) is not None
