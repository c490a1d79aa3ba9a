"""Extensions and packages: a host lists the extensions of its search paths and store, rescans,
installs a package; validate_package reports every problem without a host; a package signed by
the ``plughost`` tool validates against its publisher's key."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

import plughost
from conftest import REPO

MANIFEST = '[extension]\nname = "{name}"\nversion = "1.0.0"\nkind = "python"\nentry = "main.py"\n'


def extension_folder(parent: Path, name: str) -> Path:
    folder = parent / name
    folder.mkdir(parents=True)
    (folder / "extension.toml").write_text(MANIFEST.format(name=name))
    (folder / "main.py").write_text("print('hello')\n")
    return folder


def zip_package(path: Path, name: str, extra: dict | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("extension.toml", MANIFEST.format(name=name))
        z.writestr("main.py", "print('hello')\n")
        for entry, text in (extra or {}).items():
            z.writestr(entry, text)
    return path


def test_validate_package_reports_every_problem_without_a_host(tmp_path):
    good = zip_package(tmp_path / "good.plpkg", "geo")
    report = plughost.validate_package(good)
    assert report["valid"] and report["name"] == "geo" and report["kind"] == "python"
    assert "not signed" in report["warnings"][0]
    strict = plughost.validate_package(good, {"AllowUnsigned": False})
    assert not strict["valid"]
    assert "the package is not signed (AllowUnsigned is false)" in strict["problems"]

    evil = zip_package(tmp_path / "evil.plpkg", "geo", {"../escape.py": "x", "extra.py": "y"})
    problems = "\n".join(plughost.validate_package(evil, {"AllowUnsigned": False})["problems"])
    assert '"../escape.py": an absolute path or one that leaves the package' in problems
    assert "not signed" in problems
    (tmp_path / "text.plpkg").write_text("not a zip")
    assert "not a valid zip file" in plughost.validate_package(tmp_path / "text.plpkg")["problems"][0]

    with pytest.raises(plughost.ConfigurationError, match=r"\$\.TrustedKey: unknown key"):
        plughost.validate_package(good, {"TrustedKey": []})
    with pytest.raises(plughost.ArgumentError):
        plughost.validate_package("")


def test_a_host_lists_rescans_and_installs(tmp_path, sandbox):
    search, store = tmp_path / "extensions", tmp_path / "store"
    extension_folder(search, "geo")
    config = sandbox.config()
    config["PlugHost"]["Extensions"] = {"SearchPaths": [str(search)], "StoreDirectory": str(store)}
    with plughost.Host(config) as host:
        listed = host.extensions()
        assert listed["order"] == ["geo"]
        assert listed["extensions"][0]["state"] == "ready"
        assert listed["extensions"][0]["entry"] == str(search / "geo" / "main.py")

        host.install_package(zip_package(tmp_path / "units.plpkg", "units"))
        assert host.extensions()["order"] == ["geo", "units"]
        assert (store / "units" / "main.py").is_file()

        shutil.rmtree(search / "geo")
        host.rescan_extensions()
        assert host.extensions()["order"] == ["units"]

        (tmp_path / "bad.plpkg").write_text("not a zip")
        with pytest.raises(plughost.ArgumentError, match="not a valid zip file"):
            host.install_package(tmp_path / "bad.plpkg")
        assert host.health()["status"] == "healthy"


def test_a_package_signed_by_the_tool_validates_against_its_key(tmp_path):
    tool = REPO / "target" / "debug" / "plughost"
    if not tool.is_file():
        subprocess.run(["cargo", "build", "--quiet", "--bin", "plughost"], check=True, cwd=REPO)
    key = tmp_path / "acme.key"
    public = json.loads(
        subprocess.run([tool, "package", "keygen", "acme", "--out", key], check=True, capture_output=True, text=True).stdout
    )
    source = extension_folder(tmp_path, "geo")
    package = tmp_path / "geo.plpkg"
    subprocess.run([tool, "package", "pack", source, "--out", package, "--key", key], check=True, capture_output=True)
    report = plughost.validate_package(package, {"TrustedKeys": [public], "AllowUnsigned": False})
    assert report["valid"] and report["signer"] == "acme", report
    with zipfile.ZipFile(package, "a") as z:
        z.writestr("added.py", "x")
    tampered = plughost.validate_package(package, {"TrustedKeys": [public], "AllowUnsigned": False})
    assert "added.py: not covered by the signature (added after signing)" in tampered["problems"]
