"""Test support: the plughost library, the fixture modules, sandboxes with a trusted root.

The Rust modules are built the way tests/support/mod.rs builds them (release, into
target/fixtures, so the outer cargo lock is not needed); the C modules are compiled into this
session's temporary folder. The library under test is target/debug/libplughost.so (built here if
missing) unless PLUGHOST_LIBRARY names another one.
"""

from __future__ import annotations

import faulthandler
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict

import pytest

REPO = Path(__file__).resolve().parents[3]
BINDINGS = REPO / "bindings" / "python"
CARGO = os.environ.get("CARGO", "cargo")
DLL_PREFIX, DLL_SUFFIX = {"win32": ("", ".dll"), "darwin": ("lib", ".dylib")}.get(sys.platform, ("lib", ".so"))


def dylib(name: str) -> str:
    return f"{DLL_PREFIX}{name}{DLL_SUFFIX}"


def run(*args: Any, **kwargs: Any) -> None:
    subprocess.run([str(a) for a in args], check=True, cwd=REPO, **kwargs)


def _library_under_test() -> Path:
    debug = REPO / "target" / "debug" / dylib("plughost")
    if not debug.is_file():
        run(CARGO, "build", "--quiet")
    return debug


# The package from this checkout, not an installed copy; the library that was just built.
sys.path.insert(0, str(BINDINGS))
if not os.environ.get("PLUGHOST_LIBRARY"):
    os.environ["PLUGHOST_LIBRARY"] = str(_library_under_test())


@dataclass
class Fixtures:
    counter: Path
    counter_v2: Path
    counter_broken: Path
    tls_pinned: Path
    greeter: Path
    greeter_v2: Path
    no_entry: Path
    abi_mismatch: Path
    short_table: Path
    null_entry: Path
    init_fails: Path
    missing_execute: Path
    restore_fails: Path


@pytest.fixture(scope="session")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> Fixtures:
    target = REPO / "target" / "fixtures"
    run(
        CARGO, "build", "--release", "--quiet",
        "-p", "counter", "-p", "counter-v2", "-p", "counter-broken", "-p", "tls-pinned",
        "--target-dir", target,
    )  # fmt: skip
    rust = target / "release"
    c_out = tmp_path_factory.mktemp("c-modules")

    def c(source: str, define: str | None, name: str) -> Path:
        out = c_out / dylib(name)
        flags = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-O1", "-I", REPO / "include"]
        if define:
            flags.append(f"-D{define}")
        run(os.environ.get("CC", "cc"), *flags, "-o", out, REPO / source)
        return out

    bad = "tests/c/bad_modules.c"
    return Fixtures(
        counter=rust / dylib("counter"),
        counter_v2=rust / dylib("counter_v2"),
        counter_broken=rust / dylib("counter_broken"),
        tls_pinned=rust / dylib("tls_pinned"),
        greeter=c("examples/c/greeter_module.c", None, "greeter"),
        greeter_v2=c("examples/c/greeter_module.c", "GREETER_VERSION_2", "greeter_v2"),
        no_entry=c(bad, "NO_ENTRY", "no_entry"),
        abi_mismatch=c(bad, "ABI_MISMATCH", "abi_mismatch"),
        short_table=c(bad, "SHORT_TABLE", "short_table"),
        null_entry=c(bad, "NULL_ENTRY", "null_entry"),
        init_fails=c(bad, "INIT_FAILS", "init_fails"),
        missing_execute=c(bad, "MISSING_EXECUTE", "missing_execute"),
        restore_fails=c(bad, "RESTORE_FAILS", "restore_fails"),
    )


def build_c_example(out_dir: Path, name: str) -> Path:
    """Compile the C program ``examples/c/<name>.c`` against the library under test."""
    out = out_dir / name
    library = Path(os.environ["PLUGHOST_LIBRARY"]).parent
    run(
        "cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", REPO / "include", REPO / "examples" / "c" / f"{name}.c",
        "-L", library, "-lplughost", f"-Wl,-rpath,{library}", "-o", out,
    )  # fmt: skip
    return out


@pytest.fixture(scope="session")
def c_peer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/c/ipc_peer.c built: an IPC peer B in C."""
    return build_c_example(tmp_path_factory.mktemp("ipc-peer"), "ipc_peer")


@pytest.fixture(scope="session")
def c_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/c/plugin_c.c built: a plugin in C."""
    return build_c_example(tmp_path_factory.mktemp("plugin-c"), "plugin_c")


def replace_file(source: Path, target: Path) -> None:
    """Replace ``target`` with a copy of ``source`` the way a build does: new file, then rename."""
    partial = target.with_suffix(".partial")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


class Sandbox:
    """A trusted root, an untrusted folder beside it, and a shadow folder."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"
        self.outside = base / "outside"
        self.shadow = base / "shadow"
        for folder in (self.root, self.outside, self.shadow):
            folder.mkdir()

    def install(self, module: Path, name: str) -> Path:
        """Copy ``module`` into the trusted root as ``name``, in its own folder."""
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / dylib(name)
        replace_file(module, target)
        return target

    def config(self, **modules: Any) -> Dict[str, Any]:
        """The configuration for this sandbox, with extra ``Modules`` settings."""
        return {
            "PlugHost": {
                "Modules": {"TrustedRoots": [str(self.root)], "ShadowDirectory": str(self.shadow), **modules},
                "Logging": {"Level": "debug"},
            }
        }

    def shadow_folders(self) -> int:
        return len(list(self.shadow.iterdir())) if self.shadow.exists() else 0


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


@pytest.fixture
def host(sandbox: Sandbox):
    import plughost

    with plughost.Host(sandbox.config()) as h:
        yield h


@pytest.fixture(autouse=True)
def watchdog():
    """A hung test prints every thread's stack and ends the run instead of blocking it forever."""
    faulthandler.dump_traceback_later(300, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()
