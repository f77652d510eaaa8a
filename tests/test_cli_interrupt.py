"""Issue 11, smaller item "Ctrl-C in the first fraction of a second prints a traceback".

A real ``p4dp`` process is interrupted (SIGINT, as Ctrl-C sends) while it is still importing
and just after: it must print one line, never a Python traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

P4DP = Path(sys.executable).with_name("p4dp")


def _started_p4dp_code(pid: int, timeout: float = 30.0) -> None:
    """Wait until ``pid`` runs p4dp's own code: the interpreter's start-up (``site``) is over
    and the imports of ``matcher.cli`` have begun. The first native module they load,
    ``_opcode``, is loaded by neither ``site`` nor anything before ``matcher.cli``'s first line
    (an interrupt before that reaches Python's own start-up, which no program can handle)."""
    deadline = time.monotonic() + timeout
    maps = Path(f"/proc/{pid}/maps")
    while time.monotonic() < deadline:
        try:
            if "_opcode." in maps.read_text():
                return
        except OSError:
            return  # the process is gone: communicate() tells what happened
        time.sleep(0.002)


@pytest.mark.skipif(not P4DP.is_file(), reason="the p4dp script is not installed beside python")
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc (Linux)")
@pytest.mark.parametrize("delay", [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5])
def test_ctrl_c_early_prints_no_traceback(tmp_path: Path, delay: float):
    env = {**os.environ, "P4DP_DEBUG": "0"}
    # `synth` of many patients runs for seconds after the imports: every delay interrupts it
    command = [str(P4DP), "synth", "--patients", "2000000", "--seed", "1", "--out", "pop"]
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _started_p4dp_code(proc.pid)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    try:
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    text = err.decode("utf-8", "replace")
    assert proc.returncode != 0, "the run was not interrupted"
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert "panicked" not in text, text
    assert "interrupted" in text or "Aborted" in text, text
    assert not (tmp_path / "pop").exists(), "an interrupted synth left a data set behind"
    assert not any(p.name.startswith(".pop") for p in tmp_path.iterdir()), "staging left behind"


# Issue 11, smaller item "a killed evaluate leaves a 0-byte hidden .tmp file that is never
# cleaned": temporaries go on error, Ctrl-C and kill; one left by kill -9 goes at the next write.

_WRITER = """
import os, signal, sys, time
from pathlib import Path
from matcher.atomic import atomic_write_path
from matcher.cli._common import run_guarded

def work():
    with atomic_write_path(Path(sys.argv[1])) as tmp:
        tmp.write_bytes(b"half")
        os.kill(os.getpid(), getattr(signal, sys.argv[2]))
        time.sleep(30)

run_guarded(work)
"""


def _temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize(("signame", "status"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_killed_evaluate_tmp_file_removed_on_kill_and_ctrl_c(tmp_path: Path, signame, status):
    out = tmp_path / "results.parquet"
    proc = subprocess.run(
        [sys.executable, "-c", _WRITER, str(out), signame], capture_output=True, timeout=60
    )
    assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr.decode()
    assert not out.exists()
    assert _temporaries(tmp_path) == []


def test_killed_evaluate_tmp_file_left_by_kill_9_is_removed_by_the_next_write(tmp_path: Path):
    from matcher.atomic import atomic_write_path

    out = tmp_path / "results.parquet"
    proc = subprocess.run(
        [sys.executable, "-c", _WRITER, str(out), "SIGKILL"], capture_output=True, timeout=60
    )
    assert proc.returncode == -signal.SIGKILL
    left = _temporaries(tmp_path)
    assert len(left) == 1 and left[0].startswith(".results.parquet.p4dp-")
    with atomic_write_path(out) as tmp:
        assert _temporaries(tmp_path) == [tmp.name]  # the stale one is gone, ours is there
        tmp.write_bytes(b"done")
    assert out.read_bytes() == b"done"
    assert _temporaries(tmp_path) == []


def test_killed_evaluate_tmp_file_of_a_live_process_is_kept(tmp_path: Path):
    from matcher.atomic import remove_stale_temporaries

    out = tmp_path / "results.parquet"
    live = tmp_path / f".results.parquet.p4dp-{os.getppid()}-abc.tmp"  # a running process
    other = tmp_path / ".results.parquet.abcdefgh.tmp"  # not ours: no pid in the name
    for path in (live, other):
        path.write_bytes(b"")
    assert remove_stale_temporaries(out) == []
    assert live.exists() and other.exists()


def test_killed_evaluate_tmp_file_removed_on_error(tmp_path: Path):
    from matcher.atomic import atomic_write_path

    out = tmp_path / "results.parquet"
    with pytest.raises(RuntimeError), atomic_write_path(out) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert not out.exists() and _temporaries(tmp_path) == []
