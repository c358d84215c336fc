"""A real ``mlflow server`` on 127.0.0.1 (SQLite backend, proxied artifact store) for tests."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import VENV_BIN, tool_env


@dataclass
class Server:
    url: str
    store: Path  # --artifacts-destination: what the server keeps, on "its" disk


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def mlflow_server(folder: Path, timeout: float = 180.0) -> Iterator[Server]:
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    store = folder / "server-artifacts"
    log = open(folder / "server.log", "w")  # noqa: SIM115 (closed below)
    cmd = [str(VENV_BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", "1", "--backend-store-uri", f"sqlite:///{folder / 'server.db'}"]
    cmd += ["--artifacts-destination", str(store)]  # served: clients see mlflow-artifacts:/
    proc = subprocess.Popen(cmd, cwd=folder, env=tool_env(), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError(
                    "mlflow server did not start:\n" + (folder / "server.log").read_text()[-3000:]
                )
            time.sleep(0.5)
        yield Server(url, store)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
