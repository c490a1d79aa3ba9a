"""Extensions and packages: the extension methods of :class:`plughost.Host`, and
:func:`validate_package`, which needs no host."""

from __future__ import annotations

import json
import os
from ctypes import byref, c_uint64
from typing import Any, Dict, Mapping, Optional, Union

from . import _ffi

lib = _ffi.lib

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

#: Bus topics of extension changes (JSON payloads).
EXTENSION_ADDED_TOPIC = "plughost.extension.added"
EXTENSION_REMOVED_TOPIC = "plughost.extension.removed"
EXTENSION_FAILED_TOPIC = "plughost.extension.failed"


def _encode_path(path: PathLike) -> bytes:
    from ._host import _path  # _host imports this module

    return _path(path)


def _take_json(buffer: c_uint64) -> Dict[str, Any]:
    from ._host import take_buffer  # _host imports this module

    return json.loads(take_buffer(buffer.value).decode("utf-8"))


def validate_package(path: PathLike, options: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Check the package (``.plpkg``) at ``path`` and return the report: ``valid``, ``name``,
    ``version``, ``kind``, ``signer``, ``problems`` (every one at once) and ``warnings``. An invalid
    package is a report with ``valid`` False, not an exception.

    ``options`` is a ``PlugHost.Extensions`` object: ``TrustedKeys`` (``[{"Name", "PublicKey"}]``),
    ``AllowUnsigned`` (default True), ``MaxPackageBytes``, ``MaxPackageFiles``; bad options raise
    :class:`plughost.ConfigurationError`."""
    raw = _encode_path(path)
    text = json.dumps(options).encode("utf-8") if options is not None else b""
    buffer = c_uint64()
    lib.plughost_package_validate(raw, len(raw), text, len(text), byref(buffer))
    return _take_json(buffer)


class ExtensionsMixin:
    """Extension methods; :class:`plughost.Host` has them. Extensions are found through
    ``extension.toml`` manifests in ``PlugHost.Extensions.SearchPaths`` and in the store."""

    def _handle(self) -> Any:  # pragma: no cover - provided by Host
        raise NotImplementedError

    def extensions(self) -> Dict[str, Any]:
        """The discovered extensions: ``order`` (names in load order), ``extensions`` (each with
        ``name``, ``version``, ``kind``, ``entry``, ``state``, ``problems``, ``module_id``) and
        ``problems``."""
        buffer = c_uint64()
        lib.plughost_host_extensions_json(self._handle(), byref(buffer))
        return _take_json(buffer)

    def rescan_extensions(self) -> None:
        """Scan the extension folders again now: new module extensions load, removed ones unload,
        and the changes are published (``plughost.extension.added``, ``.removed``, ``.failed``)."""
        lib.plughost_host_rescan_extensions(self._handle())

    def install_package(self, path: PathLike) -> None:
        """Validate the package at ``path`` against the host's trusted keys, install it into
        ``PlugHost.Extensions.StoreDirectory`` and rescan. An invalid package raises
        :class:`plughost.ArgumentError` listing every problem."""
        raw = _encode_path(path)
        lib.plughost_host_install_package(self._handle(), raw, len(raw))
