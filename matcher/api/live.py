"""Start a real ``p4dp serve`` process on a free loopback port (tests, benchmarks, demos).

    with live_server(database="/tmp/api.sqlite") as base_url:
        httpx.get(base_url + "/health")

The server is stopped (SIGTERM, then SIGKILL) when the block ends. Its output goes to a
temporary file, whose tail comes with the error if the server does not answer ``/health``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(base_url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"p4dp serve exited with status {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(base_url + "/health", timeout=1.0).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"p4dp serve did not answer on {base_url} within {timeout:.0f} s")


def start_server(
    database: str, *, data: Path | None = None, port: int | None = None, extra: tuple = ()
) -> tuple[subprocess.Popen, str, Path]:
    """Start ``p4dp serve``; returns the process, its base URL and its log file."""
    port = port or free_port()
    args = [sys.executable, "-c", "from matcher.cli import main; main()", "serve"]
    args += ["--port", str(port)]
    args += ["--database", database, *extra]
    if data is not None:
        args += ["--data", str(data)]
    log = Path(tempfile.mkstemp(prefix="p4dp-serve-", suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    return process, f"http://127.0.0.1:{port}", log


def stop_server(process: subprocess.Popen, *, kill: bool = False) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def live_server(database: str, *, data: Path | None = None, extra: tuple = ()) -> Iterator[str]:
    """A running server for the duration of the block (see the module docstring)."""
    process, url, log = start_server(database, data=data, extra=extra)
    try:
        try:
            wait_healthy(url, process)
        except RuntimeError as exc:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{exc}\n{tail}") from None
        yield url
    finally:
        stop_server(process)
        log.unlink(missing_ok=True)
