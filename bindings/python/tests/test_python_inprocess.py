"""The in-process mode through the ctypes wrapper, inside this Python process: plughost finds
CPython already running here, checks its version and shares it. Runs only when the library under
test was built with the cargo feature `python-inprocess` (scripts/test.sh builds one and points
PLUGHOST_LIBRARY at it)."""

from __future__ import annotations

import sys

import pytest

import plughost


def in_process_host(**python: object) -> plughost.Host:
    try:
        return plughost.Host({"PlugHost": {"Python": {"Mode": "in-process", **python}}})
    except plughost.ConfigurationError as e:
        if "python-inprocess" not in str(e):
            raise
        pytest.skip("the library under test was built without the cargo feature python-inprocess")


def test_runs_share_this_interpreter_with_their_own_output(capsys: pytest.CaptureFixture[str]) -> None:
    with in_process_host(Workers=2) as host:
        result = host.run_python("import sys\nprint('captured')\n[id(sys), sys.version.split()[0]]")
        assert result.value == [id(sys), sys.version.split()[0]], "the same interpreter as this process"
        assert result.stdout == "captured\n"
        print("from the test")
        assert capsys.readouterr().out == "from the test\n", "the run's output stays in its run"
        host.run_python("n = 41", session="s")
        assert host.run_python("n + 1", session="s").value == 42
        with pytest.raises(plughost.PythonScriptError) as raised:
            host.run_python("import decimal\ndecimal.Decimal('x')")
        assert raised.value.type_name == "InvalidOperation"
        python = host.health()["python"]
        assert (python["mode"], python["threads"], python["state"]) == ("in-process", 2, "started")
