"""Low-level ctypes bindings to the plughost C ABI (``include/plughost.h``).

Finds and loads the shared library by full path, checks its C ABI version, and declares
``argtypes`` / ``restype`` for every function of the header. Every function returning an
``int32_t`` status gets the same ``errcheck``, which turns a failure into the matching
:class:`~plughost.PlugHostError` subclass with the status, its name and the thread's last error
message. The functions are reached as attributes of :data:`lib`, for example
``lib.plughost_host_new``.

Where the library is looked for, in order:

1. the file named by the environment variable ``PLUGHOST_LIBRARY``;
2. a copy packaged next to this module, ``plughost/<sys.platform>-<machine>/<library file>``;
3. the cargo build folders of the repository this package sits in (``target/release``, then
   ``target/debug``), found by walking up from this file.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
import warnings
from ctypes import CFUNCTYPE, POINTER, Structure, c_char_p, c_int32, c_size_t, c_uint32, c_uint64, c_void_p
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ._errors import PlugHostAbiMismatch, PlugHostLibraryError, PlugHostLibraryNotFound, error_class

#: The C ABI version this package was written for (``PLUGHOST_ABI_VERSION`` in the header).
ABI_VERSION = 1

#: The environment variable naming the library file to load.
LIBRARY_ENV = "PLUGHOST_LIBRARY"


# --- Finding the library ---------------------------------------------------------------------


def library_file_name(sys_platform: str = sys.platform) -> str:
    """The file name of the plughost shared library on a platform."""
    if sys_platform == "win32":
        return "plughost.dll"
    if sys_platform == "darwin":
        return "libplughost.dylib"
    return "libplughost.so"


def normalized_machine(machine: Optional[str] = None) -> str:
    """``platform.machine()`` with the names Windows and macOS use mapped to the usual ones."""
    machine = platform.machine() if machine is None else machine
    return {"AMD64": "x86_64", "amd64": "x86_64", "arm64": "aarch64", "ARM64": "aarch64"}.get(machine, machine)


def packaged_folder_name(sys_platform: str = sys.platform, machine: Optional[str] = None) -> str:
    """The folder next to this module holding a packaged library, for example ``linux-x86_64``."""
    return f"{sys_platform}-{normalized_machine(machine)}"


def find_repository(start: Path) -> Optional[Path]:
    """The plughost repository containing ``start``: the nearest folder above it that holds a
    ``Cargo.toml`` and ``include/plughost.h``."""
    for folder in [start, *start.parents]:
        if (folder / "Cargo.toml").is_file() and (folder / "include" / "plughost.h").is_file():
            return folder
    return None


def candidates(
    environ: Mapping[str, str] = os.environ,
    package_dir: Path = Path(__file__).resolve().parent,
    sys_platform: str = sys.platform,
    machine: Optional[str] = None,
) -> List[Tuple[str, Optional[Path]]]:
    """Every place the library is looked for, in order, as ``(description, path)``; the path is
    ``None`` where there is nothing to look at (the variable is unset, no repository was found)."""
    name = library_file_name(sys_platform)
    places: List[Tuple[str, Optional[Path]]] = []
    env = environ.get(LIBRARY_ENV)
    places.append((f"${LIBRARY_ENV}", Path(env) if env else None))
    places.append(("packaged copy", package_dir / packaged_folder_name(sys_platform, machine) / name))
    repo = find_repository(package_dir)
    if repo is None:
        places.append((f"cargo build (no plughost repository above {package_dir})", None))
    else:
        places.append(("cargo build", repo / "target" / "release" / name))
        places.append(("cargo build", repo / "target" / "debug" / name))
    return places


def find_library(places: Optional[Sequence[Tuple[str, Optional[Path]]]] = None) -> Path:
    """The first existing file of :func:`candidates`, or :class:`PlugHostLibraryNotFound` listing
    every place looked."""
    places = candidates() if places is None else places
    lines = []
    for what, path in places:
        if path is None:
            lines.append(f"  {what}: not set" if what.startswith("$") else f"  {what}")
            continue
        if path.is_file():
            return path.resolve()
        lines.append(f"  {what}: {path} (missing)")
        if what.startswith("$"):
            warnings.warn(f"{LIBRARY_ENV} names {path}, which does not exist; looking elsewhere", stacklevel=3)
    raise PlugHostLibraryNotFound(
        f"cannot find the plughost library ({library_file_name()}); looked in:\n"
        + "\n".join(lines)
        + f"\nBuild it with `cargo build --release`, or set {LIBRARY_ENV} to the library file's full path."
    )


# --- Types -----------------------------------------------------------------------------------


class plughost_host(Structure):
    """Opaque ``plughost_host``."""


class plughost_output(Structure):
    """Opaque ``plughost_output`` (a service callback's output)."""


class plughost_session(Structure):
    """Opaque ``plughost_session`` (one peer of an IPC session)."""


plughost_buffer = c_uint64
plughost_module_id = c_uint64
P_host = POINTER(plughost_host)
P_output = POINTER(plughost_output)
P_session = POINTER(plughost_session)

# Callback types. Byte pointers are c_void_p (not c_char_p, which would stop at a NUL byte); read
# them with ctypes.string_at(pointer, length).
plughost_event_callback = CFUNCTYPE(
    None, c_void_p, c_void_p, c_size_t, c_void_p, c_size_t, c_void_p, c_size_t, c_uint64
)
plughost_destroy_callback = CFUNCTYPE(None, c_void_p)
plughost_log_callback = CFUNCTYPE(None, c_void_p, c_uint32, c_void_p, c_size_t, c_void_p, c_size_t)
plughost_pump_callback = CFUNCTYPE(None, c_void_p)
plughost_service_callback = CFUNCTYPE(c_int32, c_void_p, c_void_p, c_size_t, P_output)
plughost_session_handler = CFUNCTYPE(c_int32, c_void_p, c_void_p, c_size_t, c_void_p, c_size_t, P_output)
plughost_session_event_callback = CFUNCTYPE(None, c_void_p, c_void_p, c_size_t, c_void_p, c_size_t)
plughost_plugin_state_callback = CFUNCTYPE(None, c_void_p, c_void_p, c_size_t, c_uint32, c_uint32, c_void_p, c_size_t)



class plughost_plugin_def(Structure):
    """``plughost_plugin_def``: a plugin's definition for ``plughost_plugin_run``. The callbacks'
    signatures are those of ``plughost_service_callback`` (initialize: config, error output),
    ``plughost_session_handler`` (process: command, input, output) and
    ``plughost_pump_callback`` (shutdown)."""

    _fields_ = [
        ("abi_version", c_uint32),
        ("struct_size", c_uint32),
        ("user_data", c_void_p),
        ("initialize", plughost_service_callback),
        ("process", plughost_session_handler),
        ("shutdown", plughost_pump_callback),
    ]


#: ``PLUGHOST_PLUGIN_ABI_VERSION``: the ``plughost_plugin_def`` version this package fills in.
PLUGIN_ABI_VERSION = 1

#: NULL values of the callback types, for arguments where NULL means "none".
NULL_EVENT_CALLBACK = plughost_event_callback()
NULL_DESTROY_CALLBACK = plughost_destroy_callback()
NULL_LOG_CALLBACK = plughost_log_callback()
NULL_PUMP_CALLBACK = plughost_pump_callback()
NULL_SERVICE_CALLBACK = plughost_service_callback()

# Input strings and bytes are passed as c_char_p (a bytes object's own storage) plus a length.
_bytes = c_char_p

#: Every function of include/plughost.h: name -> (restype, argtypes).
FUNCTIONS: Dict[str, Tuple[Any, List[Any]]] = {
    "plughost_buffer_data": (c_int32, [plughost_buffer, POINTER(c_void_p), POINTER(c_size_t)]),
    "plughost_buffer_free": (c_int32, [plughost_buffer]),
    "plughost_event_publish": (c_int32, [P_host, _bytes, c_size_t, _bytes, c_size_t]),
    "plughost_event_subscribe": (
        c_int32,
        [P_host, _bytes, c_size_t, plughost_event_callback, c_void_p, plughost_destroy_callback, POINTER(c_uint64)],
    ),
    "plughost_event_unsubscribe": (c_int32, [P_host, c_uint64]),
    "plughost_host_new": (c_int32, [_bytes, c_size_t, POINTER(P_host)]),
    "plughost_host_free": (None, [P_host]),
    "plughost_host_health": (c_int32, [P_host, POINTER(plughost_buffer)]),
    "plughost_host_health_check": (c_int32, [P_host, POINTER(plughost_buffer)]),
    "plughost_host_health_history": (c_int32, [P_host, POINTER(plughost_buffer)]),
    "plughost_host_set_log_callback": (
        c_int32,
        [P_host, plughost_log_callback, c_void_p, plughost_destroy_callback],
    ),
    "plughost_host_set_log_level": (c_int32, [P_host, c_uint32]),
    "plughost_host_set_main_thread": (c_int32, [P_host]),
    "plughost_host_set_pump_callback": (
        c_int32,
        [P_host, plughost_pump_callback, c_void_p, plughost_destroy_callback],
    ),
    "plughost_host_pump": (c_int32, [P_host, c_uint32, POINTER(c_uint32)]),
    "plughost_host_set_watching": (c_int32, [P_host, c_uint32]),
    "plughost_host_watching": (c_int32, [P_host, POINTER(c_uint32)]),
    "plughost_host_extensions_json": (c_int32, [P_host, POINTER(plughost_buffer)]),
    "plughost_host_rescan_extensions": (c_int32, [P_host]),
    "plughost_host_install_package": (c_int32, [P_host, _bytes, c_size_t]),
    "plughost_package_validate": (c_int32, [_bytes, c_size_t, _bytes, c_size_t, POINTER(plughost_buffer)]),
    "plughost_last_error_message": (c_size_t, [_bytes, c_size_t]),
    "plughost_last_error_status": (c_int32, []),
    "plughost_module_load": (c_int32, [P_host, _bytes, c_size_t, POINTER(plughost_module_id)]),
    "plughost_module_execute": (
        c_int32,
        [P_host, plughost_module_id, _bytes, c_size_t, _bytes, c_size_t, POINTER(plughost_buffer)],
    ),
    "plughost_module_reload": (c_int32, [P_host, plughost_module_id, _bytes, c_size_t, POINTER(c_uint64)]),
    "plughost_module_unload": (c_int32, [P_host, plughost_module_id]),
    "plughost_service_register": (
        c_int32,
        [P_host, _bytes, c_size_t, c_uint32, plughost_service_callback, c_void_p, plughost_destroy_callback],
    ),
    "plughost_service_unregister": (c_int32, [P_host, _bytes, c_size_t]),
    "plughost_service_call": (c_int32, [P_host, _bytes, c_size_t, _bytes, c_size_t, POINTER(plughost_buffer)]),
    "plughost_output_write": (c_int32, [P_output, _bytes, c_size_t]),
    "plughost_output_set_error": (c_int32, [P_output, _bytes, c_size_t]),
    "plughost_storage_get": (c_int32, [P_host, _bytes, c_size_t, POINTER(plughost_buffer)]),
    "plughost_storage_set": (c_int32, [P_host, _bytes, c_size_t, _bytes, c_size_t]),
    "plughost_session_create": (c_int32, [_bytes, c_size_t, POINTER(P_session)]),
    "plughost_session_spawn": (c_int32, [P_session, _bytes, c_size_t, _bytes, c_size_t, POINTER(c_uint32)]),
    "plughost_session_attach": (c_int32, [_bytes, c_size_t, POINTER(P_session)]),
    "plughost_session_call": (
        c_int32,
        [P_session, c_uint32, _bytes, c_size_t, _bytes, c_size_t, _bytes, c_size_t, c_uint32, POINTER(plughost_buffer)],
    ),
    "plughost_session_publish": (c_int32, [P_session, c_uint32, _bytes, c_size_t, _bytes, c_size_t, c_uint32]),
    "plughost_session_register": (
        c_int32,
        [P_session, c_uint32, _bytes, c_size_t, plughost_session_handler, c_void_p, plughost_destroy_callback],
    ),
    "plughost_session_unregister": (c_int32, [P_session, c_uint32, _bytes, c_size_t]),
    "plughost_session_on_event": (
        c_int32,
        [P_session, c_uint32, plughost_session_event_callback, c_void_p, plughost_destroy_callback],
    ),
    "plughost_session_serve": (c_int32, [P_session, c_uint32]),
    "plughost_session_serve_in_background": (c_int32, [P_session]),
    "plughost_session_status": (c_int32, [P_session]),
    "plughost_session_stats_json": (c_int32, [P_session, POINTER(plughost_buffer)]),
    "plughost_session_peer_registry_json": (c_int32, [P_session, c_uint32, POINTER(plughost_buffer)]),
    "plughost_session_close": (c_int32, [P_session]),
    "plughost_session_free": (None, [P_session]),
    "plughost_plugin_start": (c_int32, [P_host, _bytes, c_size_t]),
    "plughost_plugin_stop": (c_int32, [P_host, _bytes, c_size_t]),
    "plughost_plugin_call": (
        c_int32,
        [P_host, _bytes, c_size_t, _bytes, c_size_t, _bytes, c_size_t, c_uint32, POINTER(plughost_buffer)],
    ),
    "plughost_plugin_state": (c_int32, [P_host, _bytes, c_size_t, POINTER(c_uint32)]),
    "plughost_plugin_list": (c_int32, [P_host, POINTER(plughost_buffer)]),
    "plughost_python_drop_session": (c_int32, [P_host, _bytes, c_size_t, POINTER(c_uint32)]),
    "plughost_python_run": (c_int32, [P_host, _bytes, c_size_t, POINTER(plughost_buffer)]),
    "plughost_plugin_subscribe_states": (
        c_int32,
        [P_host, plughost_plugin_state_callback, c_void_p, plughost_destroy_callback, POINTER(c_uint64)],
    ),
    "plughost_plugin_unsubscribe_states": (c_int32, [P_host, c_uint64]),
    "plughost_plugin_run": (c_int32, [POINTER(plughost_plugin_def)]),
    "plughost_plugin_log": (c_int32, [c_uint32, _bytes, c_size_t]),
    "plughost_plugin_storage_get": (c_int32, [_bytes, c_size_t, POINTER(plughost_buffer)]),
    "plughost_plugin_storage_set": (c_int32, [_bytes, c_size_t, _bytes, c_size_t]),
    "plughost_plugin_call_service": (c_int32, [_bytes, c_size_t, _bytes, c_size_t, POINTER(plughost_buffer)]),
    "plughost_plugin_publish": (c_int32, [_bytes, c_size_t, _bytes, c_size_t, POINTER(c_uint64)]),
    "plughost_plugin_subscribe": (
        c_int32,
        [_bytes, c_size_t, plughost_event_callback, c_void_p, plughost_destroy_callback, POINTER(c_uint64)],
    ),
    "plughost_plugin_unsubscribe": (c_int32, [c_uint64]),
    "plughost_plugin_name": (c_int32, [POINTER(plughost_buffer)]),
    "plughost_abi_version": (c_uint32, []),
    "plughost_version": (c_char_p, []),
    "plughost_status_name": (c_char_p, [c_int32]),
}

#: Functions returning int32_t that is a value, not a status to check (``plughost_plugin_run``
#: returns an exit code).
NOT_STATUS = frozenset({"plughost_last_error_status", "plughost_plugin_run"})

#: ``flags`` bit for ``plughost_service_register``.
SERVICE_MAIN_THREAD = 1

#: ``PLUGHOST_PLUGIN_*`` states.
(
    PLUGIN_STOPPED,
    PLUGIN_STARTING,
    PLUGIN_INITIALIZING,
    PLUGIN_RUNNING,
    PLUGIN_SHUTTING_DOWN,
    PLUGIN_CRASHED,
    PLUGIN_RESTARTING,
) = range(7)

#: ``PLUGHOST_SESSION_EVERY_CHANNEL`` and ``PLUGHOST_SESSION_DATA_CHANNEL``.
SESSION_EVERY_CHANNEL = 0
SESSION_DATA_CHANNEL = 1

#: Log levels (``PLUGHOST_LOG_*``).
LOG_OFF, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE = range(6)


# --- Loading ---------------------------------------------------------------------------------


def load(path: Path) -> ctypes.CDLL:
    """Load the library at ``path``, check its ABI version and declare every function."""
    try:
        library = ctypes.CDLL(str(path))
    except OSError as e:
        raise PlugHostLibraryError(f"cannot load the plughost library {path}: {e}") from e
    try:
        abi = library.plughost_abi_version
    except AttributeError:
        raise PlugHostAbiMismatch(f"{path} is not a plughost library: it has no plughost_abi_version") from None
    abi.restype, abi.argtypes = c_uint32, []
    found = abi()
    if found != ABI_VERSION:
        raise PlugHostAbiMismatch(
            f"the plughost library {path} has C ABI version {found}, but this Python package was written "
            f"for ABI version {ABI_VERSION}; install the matching package or library"
        )
    missing = [name for name in FUNCTIONS if not hasattr(library, name)]
    if missing:
        raise PlugHostAbiMismatch(
            f"the plughost library {path} lacks {', '.join(missing)}; it is older than this package"
        )
    for name, (restype, argtypes) in FUNCTIONS.items():
        function = getattr(library, name)
        function.restype = restype
        function.argtypes = argtypes
        if restype is c_int32 and name not in NOT_STATUS:
            function.errcheck = check_status
    return library


def last_error_message() -> str:
    """The calling thread's last failure message (see ``plughost_last_error_message``)."""
    buffer = ctypes.create_string_buffer(512)
    length = lib.plughost_last_error_message(buffer, len(buffer))
    if length >= len(buffer):
        # Truncated: ask again with room for all of it. Nothing ran on this thread in between.
        buffer = ctypes.create_string_buffer(length + 1)
        length = min(lib.plughost_last_error_message(buffer, len(buffer)), len(buffer) - 1)
    return buffer.raw[:length].decode("utf-8", "replace")


def status_name(status: int) -> str:
    """The header's name of a status code (``PLUGHOST_ERR_UNKNOWN`` for an unknown number)."""
    return (lib.plughost_status_name(status) or b"PLUGHOST_ERR_UNKNOWN").decode("utf-8", "replace")


def error_for_status(status: int, function: Optional[str] = None, message: Optional[str] = None) -> Exception:
    """The exception for a failed call; reads the thread's last error message unless given."""
    if message is None:
        message = last_error_message()
    return error_class(status)(message, status, status_name(status), function)


def check_status(result: int, func: Any, arguments: Tuple[Any, ...]) -> int:
    """``errcheck`` of every status function: raise the typed error for a non-zero status.

    ctypes releases the GIL around the call, but runs this on the same OS thread right after it,
    so the thread-local last error read here belongs to this call.
    """
    if result != 0:
        raise error_for_status(result, getattr(func, "__name__", None))
    return result


def _load_default() -> Tuple[Path, ctypes.CDLL]:
    path = find_library()
    return path, load(path)


#: The path of the loaded library.
library_path: Path
#: The loaded library; every function of the header is an attribute, declared.
lib: ctypes.CDLL
library_path, lib = _load_default()

#: The library's version (``plughost_version()``), for example ``"0.1.0"``.
library_version: str = lib.plughost_version().decode("utf-8")
#: The library's C ABI version (equal to :data:`ABI_VERSION`).
library_abi_version: int = lib.plughost_abi_version()
