"""The Python pool through the ctypes wrapper: values, bytes, output, exceptions with their
traceback and output, sessions, timeouts, saturation, crashes, an unavailable Python."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import plughost
from conftest import CARGO, REPO, run

WORKER = REPO / "target" / "fixtures" / "release" / "plughost-python-worker"


@pytest.fixture(scope="session")
def worker() -> Path:
    run(CARGO, "build", "--release", "--quiet", "-p", "plughost-python-worker", "--target-dir", REPO / "target" / "fixtures")
    return WORKER


def pool_host(worker: Path, **python: object) -> plughost.Host:
    return plughost.Host({"PlugHost": {"Python": {"WorkerPath": str(worker), **python}}})


def test_values_output_and_exceptions(worker: Path) -> None:
    with pool_host(worker, Workers=1) as host:
        result = host.run_python("print('hi')\n{'sum': sum(args)}", args=[1, 2, 3])
        assert (result.value, result.stdout, result.worker) == ({"sum": 6}, "hi\n", 0)
        assert result.duration_us > 0
        assert host.run_python("b'\\x01\\x02'").value == b"\x01\x02"
        assert host.run_python(module="json", function="dumps", args=[[1]], kwargs={"separators": [",", ":"]}).value == "[1]"
        with pytest.raises(plughost.PythonScriptError) as raised:
            host.run_python("print('partial')\nraise KeyError('k')", filename="job.py")
        e = raised.value
        assert (e.status_name, e.type_name, e.stdout) == ("PLUGHOST_ERR_PYTHON_ERROR", "KeyError", "partial\n")
        assert 'File "job.py", line 2' in e.traceback
        with pytest.raises(plughost.ArgumentError, match="exactly one of"):
            host.run_python("1", file="x.py")


def test_sessions_timeouts_and_crashes(worker: Path) -> None:
    with pool_host(worker, Workers=1) as host:
        host.run_python("n = 1", session="s")
        assert host.run_python("n += 1\nn", session="s").value == 2
        with pytest.raises(plughost.PlugHostTimeoutError):
            host.run_python("while True: pass", timeout=0.3)
        with pytest.raises(plughost.PythonSessionLostError):
            host.run_python("n", session="s")
        with pytest.raises(plughost.PythonWorkerCrashedError):
            host.run_python("import os\nos._exit(1)")
        assert host.run_python("'still here'").value == "still here"
        host.run_python("m = 1", session="t")
        assert host.drop_python_session("t") is True
        assert host.drop_python_session("t") is False
        python = host.health()["python"]
        assert python["timeouts"] == 1 and python["workers"][0]["crashes"] == 1


def test_saturation_and_unavailable(worker: Path) -> None:
    with pool_host(worker, Workers=1, QueueLimit=0) as host:
        host.run_python("1")
        busy = threading.Thread(target=host.run_python, args=("import time\ntime.sleep(0.8)",))
        busy.start()
        time.sleep(0.3)
        with pytest.raises(plughost.PoolSaturatedError):
            host.run_python("1")
        busy.join()
    with plughost.Host({"PlugHost": {"Python": {"WorkerPath": "/nonexistent/worker"}}}) as host:
        with pytest.raises(plughost.PythonUnavailableError, match="/nonexistent/worker"):
            host.run_python("1")
