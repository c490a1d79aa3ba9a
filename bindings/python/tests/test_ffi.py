"""The low-level layer: every header function declared, every status mapped, the library found and
checked, and the C-level argument errors reached through raw calls."""

from __future__ import annotations

import builtins
import ctypes
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
from ctypes import POINTER, byref, c_char_p, c_int32, c_size_t, c_uint32, c_uint64, c_void_p
from pathlib import Path

import pytest

import plughost
from plughost import _callbacks, _errors, _ffi
from plughost._ffi import lib

from conftest import BINDINGS, REPO, dylib

HEADER = (REPO / "include" / "plughost.h").read_text()
PROTOTYPE = re.compile(r"^([A-Za-z_][\w ]*?[\s*]+)(plughost_\w+)\(([^)]*)\);", re.MULTILINE)
CALLBACK = re.compile(r"^typedef ([\w ]+?\**)\s*\(\*(plughost_\w+)\)\(([^)]*)\);", re.MULTILINE)
ERR_MACRO = re.compile(r"^#define PLUGHOST_ERR_(\w+) (\d+)$", re.MULTILINE)
SCALARS = {
    "int32_t": c_int32,
    "uint32_t": c_uint32,
    "uint64_t": c_uint64,
    "size_t": c_size_t,
    "plughost_buffer": c_uint64,
    "plughost_module_id": c_uint64,
}


def expected_ctype(c_type: str, in_callback: bool = False):
    """The ctypes type a C type of the header must be declared as."""
    t = c_type.replace("const ", "").strip()
    stars = t.count("*")
    base = t.replace("*", "").strip()
    if stars == 0:
        if base == "void":
            return None
        if base in SCALARS:
            return SCALARS[base]
        return getattr(_ffi, base)  # a callback type
    if base == "void" and stars == 1:
        return c_void_p
    if base in ("uint8_t", "char") and stars == 1:
        # Callbacks get raw pointers (read with string_at and the length); calls pass bytes.
        return c_void_p if in_callback else c_char_p
    if base == "uint8_t" and stars == 2:
        return POINTER(c_void_p)
    if base in ("plughost_host", "plughost_output", "plughost_session", "plughost_plugin_def"):
        pointer = POINTER(getattr(_ffi, base))
        return pointer if stars == 1 else POINTER(pointer)
    if base in SCALARS and stars == 1:
        return POINTER(SCALARS[base])
    raise AssertionError(f"no rule for C type {c_type!r}")


def split_parameters(parameters: str):
    parameters = parameters.strip()
    if parameters in ("", "void"):
        return []
    types = []
    for parameter in parameters.split(","):
        match = re.match(r"^(.*?[\s*])(\w+)$", parameter.strip())
        assert match, parameter
        types.append(match.group(1).strip())
    return types


def header_functions():
    found = {name: (ret.strip(), split_parameters(params)) for ret, name, params in PROTOTYPE.findall(HEADER)}
    assert len(found) >= 29, sorted(found)
    return found


def test_every_header_function_is_declared_with_its_exact_types():
    functions = header_functions()
    assert set(functions) == set(_ffi.FUNCTIONS), "the header and _ffi.FUNCTIONS list other functions"
    for name, (ret, params) in functions.items():
        function = getattr(lib, name)
        assert function.argtypes is not None, name
        assert list(function.argtypes) == [expected_ctype(p) for p in params], name
        assert function.restype is expected_ctype(ret), name
        checked = ret == "int32_t" and name not in ("plughost_last_error_status", "plughost_plugin_run")
        assert (function.errcheck is _ffi.check_status) == checked, name


def test_every_callback_type_matches_the_header():
    callbacks = CALLBACK.findall(HEADER)
    assert len(callbacks) == 8
    for ret, name, params in callbacks:
        declared = getattr(_ffi, name)
        assert declared._restype_ is expected_ctype(ret, in_callback=True), name
        assert list(declared._argtypes_) == [
            expected_ctype(p, in_callback=True) for p in split_parameters(params)
        ], name


EXPECTED_CLASSES = {
    "NULL_ARGUMENT": plughost.ArgumentError,
    "INVALID_ARGUMENT": plughost.ArgumentError,
    "INVALID_UTF8": plughost.ArgumentError,
    "INVALID_HANDLE": plughost.InvalidHandleError,
    "PANIC": plughost.InternalPanicError,
    "INVALID_CONFIG": plughost.ConfigurationError,
    "WRONG_THREAD": plughost.WrongThreadError,
    "TIMEOUT": plughost.PlugHostTimeoutError,
    "LIMIT_REACHED": plughost.LimitReachedError,
    "IO": plughost.PlugHostIOError,
    "HOST_STOPPED": plughost.HostStoppedError,
    "MODULE_NOT_FOUND": plughost.ModuleFileNotFoundError,
    "MODULE_NOT_LOADABLE": plughost.ModuleNotLoadableError,
    "MODULE_ENTRY_MISSING": plughost.ModuleEntryMissingError,
    "MODULE_ABI_MISMATCH": plughost.ModuleAbiMismatchError,
    "MODULE_INIT_FAILED": plughost.ModuleInitError,
    "MODULE_UNKNOWN_COMMAND": plughost.UnknownCommandError,
    "MODULE_FAILED": plughost.ModuleFailedError,
    "MODULE_PANICKED": plughost.ModulePanickedError,
    "MODULE_DRAIN_TIMEOUT": plughost.ModuleDrainTimeoutError,
    "MODULE_PATH_NOT_TRUSTED": plughost.ModulePathNotTrustedError,
    "MODULE_PINNED_LIMIT": plughost.ModulePinnedLimitError,
    "MODULE_STATE_TRANSFER": plughost.ModuleStateTransferError,
    "SERVICE_NOT_FOUND": plughost.ServiceNotFoundError,
    "SERVICE_FAILED": plughost.ServiceFailedError,
    "SERVICE_EXISTS": plughost.ServiceExistsError,
    "KEY_NOT_FOUND": plughost.KeyNotFoundError,
    "IPC_PEER_DEAD": plughost.IpcPeerDeadError,
    "IPC_TIMEOUT": plughost.IpcTimeoutError,
    "IPC_MALFORMED": plughost.IpcMalformedError,
    "IPC_CLOSED": plughost.IpcClosedError,
    "IPC_REMOTE_FAILED": plughost.IpcRemoteFailedError,
    "IPC_TOO_LARGE": plughost.IpcTooLargeError,
    "IPC_SETUP": plughost.IpcSetupError,
    "IPC_INCOMPATIBLE": plughost.IpcIncompatibleError,
    "PLUGIN_NOT_FOUND": plughost.PluginNotFoundError,
    "PLUGIN_NOT_RUNNING": plughost.PluginNotRunningError,
    "PLUGIN_START_FAILED": plughost.PluginStartFailedError,
    "PLUGIN_FAILED": plughost.PluginFailedError,
    "PLUGIN_CRASHED": plughost.PluginCrashedError,
    "PYTHON_UNAVAILABLE": plughost.PythonUnavailableError,
    "PYTHON_ERROR": plughost.PythonScriptError,
    "POOL_SATURATED": plughost.PoolSaturatedError,
    "PYTHON_MEMORY_LIMIT": plughost.PythonMemoryLimitError,
    "PYTHON_WORKER_CRASHED": plughost.PythonWorkerCrashedError,
    "PYTHON_SESSION_LOST": plughost.PythonSessionLostError,
}


def test_every_status_macro_maps_to_its_exception_class():
    macros = {name: int(number) for name, number in ERR_MACRO.findall(HEADER)}
    assert len(macros) >= 27
    assert set(macros) == set(EXPECTED_CLASSES), "a status was added: map it in _errors.py and here"
    for name, number in macros.items():
        assert getattr(_errors, f"ERR_{name}") == number, name
        assert _errors.error_class(number) is EXPECTED_CLASSES[name], name
        assert _errors.error_class(number) is not plughost.PlugHostError, name
        assert _ffi.status_name(number) == f"PLUGHOST_ERR_{name}"
    assert _errors.error_class(12345) is plughost.PlugHostError
    assert _ffi.status_name(0) == "PLUGHOST_OK"
    assert _ffi.status_name(12345) == "PLUGHOST_ERR_UNKNOWN"


def test_exception_families():
    for cls in (
        plughost.ModuleFileNotFoundError,
        plughost.ModuleNotLoadableError,
        plughost.ModuleEntryMissingError,
        plughost.ModuleAbiMismatchError,
        plughost.ModuleInitError,
        plughost.ModulePathNotTrustedError,
        plughost.ModulePinnedLimitError,
    ):
        assert issubclass(cls, plughost.ModuleLoadError)
    for cls in (plughost.ModuleDrainTimeoutError, plughost.ModuleStateTransferError):
        assert issubclass(cls, plughost.ModuleUnloadError)
    for cls in (plughost.UnknownCommandError, plughost.ModuleFailedError, plughost.ModulePanickedError):
        assert issubclass(cls, plughost.ModuleExecuteError)
    for cls in (plughost.ServiceNotFoundError, plughost.ServiceFailedError, plughost.ServiceExistsError):
        assert issubclass(cls, plughost.ServiceError)
    for cls in (plughost.IpcPeerDeadError, plughost.IpcTimeoutError, plughost.IpcMalformedError, plughost.IpcClosedError, plughost.IpcRemoteFailedError, plughost.IpcTooLargeError, plughost.IpcSetupError, plughost.IpcIncompatibleError):
        assert issubclass(cls, plughost.IpcError)
    for cls in (
        plughost.PluginNotFoundError,
        plughost.PluginNotRunningError,
        plughost.PluginStartFailedError,
        plughost.PluginFailedError,
        plughost.PluginCrashedError,
    ):
        assert issubclass(cls, plughost.PluginError)
    for cls in (
        plughost.PythonUnavailableError,
        plughost.PythonScriptError,
        plughost.PoolSaturatedError,
        plughost.PythonMemoryLimitError,
        plughost.PythonWorkerCrashedError,
        plughost.PythonSessionLostError,
    ):
        assert issubclass(cls, plughost.PythonPoolError)
    assert issubclass(plughost.KeyNotFoundError, KeyError)
    assert issubclass(plughost.HostClosedError, plughost.InvalidHandleError)
    assert issubclass(plughost.PlugHostLibraryNotFound, ImportError)
    assert issubclass(plughost.PlugHostAbiMismatch, ImportError)
    for cls in set(EXPECTED_CLASSES.values()):
        assert issubclass(cls, plughost.PlugHostError)
        assert not hasattr(builtins, cls.__name__), f"{cls.__name__} shadows a builtin"


def test_errcheck_builds_typed_errors_for_any_status():
    # PLUGHOST_ERR_PANIC cannot be provoked through the API (it means a bug in plughost): check
    # that the shared errcheck maps it, and an unknown number, all the same.
    with pytest.raises(plughost.InternalPanicError) as e:
        _ffi.check_status(5, lib.plughost_host_pump, ())
    assert (e.value.status, e.value.status_name, e.value.function) == (5, "PLUGHOST_ERR_PANIC", "plughost_host_pump")
    with pytest.raises(plughost.PlugHostError) as e:
        _ffi.check_status(12345, lib.plughost_host_pump, ())
    assert type(e.value) is plughost.PlugHostError
    assert e.value.status_name == "PLUGHOST_ERR_UNKNOWN"
    assert _ffi.check_status(0, lib.plughost_host_pump, ()) == 0


def test_versions_match_the_header():
    assert re.search(r'#define PLUGHOST_VERSION "([^"]+)"', HEADER).group(1) == plughost.library_version
    assert int(re.search(r"#define PLUGHOST_ABI_VERSION (\d+)", HEADER).group(1)) == plughost.ABI_VERSION == 1
    assert _ffi.library_abi_version == plughost.ABI_VERSION
    assert int(re.search(r"#define PLUGHOST_SERVICE_MAIN_THREAD (\d+)", HEADER).group(1)) == _ffi.SERVICE_MAIN_THREAD
    for i, level in enumerate(["OFF", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"]):
        assert f"#define PLUGHOST_LOG_{level} {i}\n" in HEADER
        assert getattr(_ffi, f"LOG_{level}") == i
    assert plughost.library_path == Path(os.environ["PLUGHOST_LIBRARY"]).resolve()


# --- raw calls: the C-level argument errors -----------------------------------------------


def test_null_and_invalid_arguments(host):
    ptr = host._handle()
    out = c_uint64()
    with pytest.raises(plughost.ArgumentError) as e:
        lib.plughost_storage_get(ptr, None, 0, byref(out))
    assert (e.value.status, e.value.status_name) == (1, "PLUGHOST_ERR_NULL_ARGUMENT")
    assert e.value.message == "key is NULL"
    assert e.value.function == "plughost_storage_get"
    with pytest.raises(plughost.ArgumentError) as e:
        lib.plughost_storage_set(ptr, b"k", 1, None, 5)
    assert e.value.status == 1 and "length is 5" in e.value.message
    with pytest.raises(plughost.ArgumentError) as e:
        lib.plughost_host_new(None, 0, None)
    assert e.value.status == 1 and "out_host" in e.value.message
    with pytest.raises(plughost.ArgumentError) as e:
        lib.plughost_host_health(None, byref(out))
    assert e.value.status == 1 and "host is NULL" in e.value.message
    with pytest.raises(plughost.ArgumentError) as e:
        lib.plughost_output_write(None, b"x", 1)
    assert e.value.status == 1
    with pytest.raises(plughost.ArgumentError) as e:
        lib.plughost_output_set_error(None, b"x", 1)
    assert e.value.status == 1
    with pytest.raises(plughost.ArgumentError) as e:
        lib.plughost_service_register(ptr, b"svc", 3, 0, _ffi.NULL_SERVICE_CALLBACK, None, _ffi.NULL_DESTROY_CALLBACK)
    assert e.value.status == 1 and "callback is NULL" in e.value.message
    with pytest.raises(plughost.ArgumentError) as e:
        lib.plughost_event_subscribe(
            ptr, b"t", 1, _ffi.NULL_EVENT_CALLBACK, None, _ffi.NULL_DESTROY_CALLBACK, byref(out)
        )
    assert e.value.status == 1
    with pytest.raises(plughost.ArgumentError) as e:
        lib.plughost_host_set_log_level(ptr, 6)
    assert (e.value.status, e.value.status_name) == (2, "PLUGHOST_ERR_INVALID_ARGUMENT")
    with pytest.raises(plughost.ArgumentError) as e:
        lib.plughost_storage_set(ptr, b"", 0, b"v", 1)
    assert e.value.status == 2 and "empty" in e.value.message
    with pytest.raises(plughost.ArgumentError) as e:
        lib.plughost_service_register(ptr, b"flags", 5, 2, _callbacks.SERVICE, None, _ffi.NULL_DESTROY_CALLBACK)
    assert e.value.status == 2 and "unknown service flags" in e.value.message


def test_invalid_utf8_is_refused_everywhere(host):
    ptr = host._handle()
    bad = b"\xff\xfe"
    out = c_uint64()
    calls = [
        lambda: lib.plughost_storage_set(ptr, bad, 2, b"v", 1),
        lambda: lib.plughost_storage_get(ptr, bad, 2, byref(out)),
        lambda: lib.plughost_event_publish(ptr, bad, 2, None, 0),
        lambda: lib.plughost_service_call(ptr, bad, 2, None, 0, byref(out)),
        lambda: lib.plughost_service_unregister(ptr, bad, 2),
        lambda: lib.plughost_module_load(ptr, bad, 2, byref(out)),
        lambda: lib.plughost_host_new(bad, 2, byref(_ffi.P_host())),
    ]
    for call in calls:
        with pytest.raises(plughost.ArgumentError) as e:
            call()
        assert (e.value.status, e.value.status_name) == (3, "PLUGHOST_ERR_INVALID_UTF8")
        assert "not valid UTF-8" in e.value.message
    # And through the idiomatic layer: a bytes path that is not UTF-8.
    with pytest.raises(plughost.ArgumentError) as e:
        host.load_module(b"/tmp/\xff.so")
    assert e.value.status == 3


def test_buffers_are_freed_once_and_stale_ids_are_refused(host):
    buffer = c_uint64()
    lib.plughost_host_health(host._handle(), byref(buffer))
    data, length = c_void_p(), c_size_t()
    lib.plughost_buffer_data(buffer.value, byref(data), byref(length))
    assert ctypes.string_at(data.value, length.value).startswith(b"{")
    lib.plughost_buffer_free(buffer.value)
    with pytest.raises(plughost.InvalidHandleError) as e:
        lib.plughost_buffer_data(buffer.value, byref(data), byref(length))
    assert "freed" in e.value.message
    with pytest.raises(plughost.InvalidHandleError):
        lib.plughost_buffer_free(buffer.value)  # double free
    with pytest.raises(plughost.InvalidHandleError):
        lib.plughost_buffer_data(0xDEAD_0000_0001, byref(data), byref(length))
    assert lib.plughost_buffer_free(0) == 0
    with pytest.raises(plughost.ArgumentError):
        lib.plughost_host_health(host._handle(), None)


def test_freed_host_pointer_stays_safe(sandbox):
    h = plughost.Host(sandbox.config())
    ptr = h._handle()
    h.close()
    with pytest.raises(plughost.InvalidHandleError) as e:
        lib.plughost_host_health(ptr, byref(c_uint64()))
    assert type(e.value) is plughost.InvalidHandleError and "freed" in e.value.message
    lib.plughost_host_free(ptr)  # a second free is a no-op
    lib.plughost_host_free(None)


def test_last_error_is_per_thread_and_read_whole(host):
    long_key = "k" * 2000
    with pytest.raises(plughost.KeyNotFoundError) as e:
        host.storage_get(long_key)
    assert long_key in e.value.message, "a message longer than the first read buffer is read whole"
    assert lib.plughost_last_error_status() == 300
    assert lib.plughost_last_error_message(None, 0) == len(e.value.message)
    small = ctypes.create_string_buffer(8)
    assert lib.plughost_last_error_message(small, 8) == len(e.value.message)
    assert small.value == e.value.message.encode()[:7]
    other = {}

    def fresh_thread():
        other["status"] = lib.plughost_last_error_status()
        other["length"] = lib.plughost_last_error_message(None, 0)

    t = threading.Thread(target=fresh_thread)
    t.start()
    t.join()
    assert other == {"status": 0, "length": 0}
    host.storage_set("ok", b"1")
    assert lib.plughost_last_error_status() == 300, "successful calls keep the last error"


# --- finding and checking the library ----------------------------------------------------


def test_candidates_are_in_the_documented_order(tmp_path):
    package = BINDINGS / "plughost"
    places = _ffi.candidates(environ={}, package_dir=package, sys_platform="linux", machine="x86_64")
    assert places == [
        ("$PLUGHOST_LIBRARY", None),
        ("packaged copy", package / "linux-x86_64" / "libplughost.so"),
        ("cargo build", REPO / "target" / "release" / "libplughost.so"),
        ("cargo build", REPO / "target" / "debug" / "libplughost.so"),
    ]
    places = _ffi.candidates(
        environ={"PLUGHOST_LIBRARY": "/x/plughost.dll"}, package_dir=tmp_path, sys_platform="win32", machine="AMD64"
    )
    assert places[0] == ("$PLUGHOST_LIBRARY", Path("/x/plughost.dll"))
    assert places[1] == ("packaged copy", tmp_path / "win32-x86_64" / "plughost.dll")
    assert places[2][1] is None and "no plughost repository" in places[2][0]
    assert _ffi.packaged_folder_name("darwin", "arm64") == "darwin-aarch64"
    assert _ffi.library_file_name("darwin") == "libplughost.dylib"


def test_find_library_takes_the_first_existing_file_and_lists_every_place(tmp_path):
    a, b, c = tmp_path / "a.so", tmp_path / "b.so", tmp_path / "c.so"
    places = [("$PLUGHOST_LIBRARY", None), ("packaged copy", a), ("cargo build", b), ("cargo build", c)]
    c.write_bytes(b"")
    assert _ffi.find_library(places) == c.resolve()
    b.write_bytes(b"")
    assert _ffi.find_library(places) == b.resolve()
    b.unlink()
    c.unlink()
    with pytest.raises(plughost.PlugHostLibraryNotFound) as e:
        _ffi.find_library(places)
    message = str(e.value)
    for expected in ("$PLUGHOST_LIBRARY: not set", str(a), str(b), str(c), "cargo build --release"):
        assert expected in message
    c.write_bytes(b"")
    with pytest.warns(UserWarning, match="does not exist"):
        assert _ffi.find_library([("$PLUGHOST_LIBRARY", a), ("cargo build", c)]) == c.resolve()


def _import_in_subprocess(
    package_parent: Path, env_library, code: str = "import plughost; print(plughost.library_path)"
):
    env = {k: v for k, v in os.environ.items() if k != "PLUGHOST_LIBRARY"}
    env["PYTHONPATH"] = str(package_parent)
    if env_library is not None:
        env["PLUGHOST_LIBRARY"] = str(env_library)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=package_parent)


def _copy_package(tmp_path: Path) -> Path:
    parent = tmp_path / "site"
    shutil.copytree(BINDINGS / "plughost", parent / "plughost", ignore=shutil.ignore_patterns("__pycache__"))
    return parent


def test_import_outside_the_repository_reports_every_place(tmp_path):
    parent = _copy_package(tmp_path)
    result = _import_in_subprocess(
        parent,
        None,
        "import plughost\n",
    )
    assert result.returncode != 0
    assert "PlugHostLibraryNotFound" in result.stderr
    assert "$PLUGHOST_LIBRARY: not set" in result.stderr
    assert str(parent / "plughost" / _ffi.packaged_folder_name() / dylib("plughost")) in result.stderr
    assert "no plughost repository above" in result.stderr
    code = "try:\n    import plughost\nexcept ImportError as e:\n    print(type(e).__name__)\n"
    assert _import_in_subprocess(parent, None, code).stdout.strip() == "PlugHostLibraryNotFound"


def test_packaged_copy_and_environment_variable(tmp_path):
    parent = _copy_package(tmp_path)
    packaged = parent / "plughost" / _ffi.packaged_folder_name() / dylib("plughost")
    packaged.parent.mkdir()
    shutil.copyfile(_ffi.library_path, packaged)
    result = _import_in_subprocess(parent, None)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == packaged.resolve()
    result = _import_in_subprocess(parent, _ffi.library_path)
    assert Path(result.stdout.strip()) == _ffi.library_path, "PLUGHOST_LIBRARY comes first"
    result = _import_in_subprocess(parent, tmp_path / "missing.so")
    assert result.returncode == 0 and Path(result.stdout.strip()) == packaged.resolve()
    assert "does not exist" in result.stderr, "a PLUGHOST_LIBRARY naming nothing is warned about"


def test_repository_build_folders_are_found():
    result = _import_in_subprocess(BINDINGS, None)
    assert result.returncode == 0, result.stderr
    name = dylib("plughost")
    first = next(p for p in (REPO / "target" / "release" / name, REPO / "target" / "debug" / name) if p.is_file())
    assert Path(result.stdout.strip()) == first.resolve()


FAKE_LIBRARY = {
    "abi2": "unsigned plughost_abi_version(void) { return 2; }",
    "abi1_incomplete": "unsigned plughost_abi_version(void) { return 1; }",
    "not_plughost": "int something_else(void) { return 0; }",
}


@pytest.mark.parametrize("kind", sorted(FAKE_LIBRARY))
def test_a_wrong_library_is_refused(tmp_path, kind):
    source = tmp_path / "fake.c"
    source.write_text(FAKE_LIBRARY[kind] + "\n")
    library = tmp_path / dylib("plughost")
    subprocess.run([os.environ.get("CC", "cc"), "-shared", "-fPIC", "-o", library, source], check=True)
    code = textwrap.dedent("""
        try:
            import plughost
        except ImportError as e:
            print(type(e).__name__)
            print(e)
        """)
    result = _import_in_subprocess(BINDINGS, library, code)
    lines = result.stdout.splitlines()
    assert lines[0] == "PlugHostAbiMismatch", result.stdout + result.stderr
    message = "\n".join(lines[1:])
    if kind == "abi2":
        assert "C ABI version 2" in message and "written for ABI version 1" in message
    elif kind == "abi1_incomplete":
        assert "lacks plughost_" in message
    else:
        assert "not a plughost library" in message


def test_a_file_that_is_not_a_library_is_refused(tmp_path):
    library = tmp_path / dylib("plughost")
    library.write_text("not a library")
    code = "try:\n    import plughost\nexcept ImportError as e:\n    print(type(e).__name__, e)\n"
    result = _import_in_subprocess(BINDINGS, library, code)
    assert result.stdout.startswith("PlugHostLibraryError cannot load the plughost library"), result.stdout
