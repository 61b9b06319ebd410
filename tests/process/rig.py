"""One container's worth of processes, laid out as the image lays them out."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support import REPO, http_json


@dataclass
class Supervised:
    """One container's worth of processes: supervisord, the worker, the consumer."""

    process: subprocess.Popen
    home: Path
    log_path: Path
    container_id: int
    worker_port: int
    http_port: int
    control_port: int

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.control_port}"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def supervisorctl(self, *args: str) -> str:
        result = subprocess.run(
            [str(self.home / "bin" / "supervisorctl"), "-c",
             str(self.home / "etc" / "supervisord.conf"), *args],
            capture_output=True, text=True, timeout=30)
        return result.stdout

    def pid_of(self, program: str) -> int:
        return int(self.supervisorctl("pid", program).strip())

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        return self.process.returncode


def make_home(tmp_path: Path) -> Path:
    """Lay out what the image has under /opt/null-worker, with this venv as its bin/."""
    home = tmp_path / "null-worker"
    (home / "etc").mkdir(parents=True)
    (home / "libexec").mkdir()
    (home / "run").mkdir()
    (home / "bin").mkdir()
    venv_bin = Path(sys.executable).parent
    # A symlinked interpreter would not find the venv, so bin/python execs the real one.
    python = home / "bin" / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    for tool in ("supervisord", "supervisorctl"):
        (home / "bin" / tool).symlink_to(venv_bin / tool)
    shutil.copy(REPO / "image" / "supervisord.conf", home / "etc")
    shutil.copy(REPO / "image" / "run-consumer", home / "libexec")
    return home


def control(rig: Supervised, path: str, method: str = "GET") -> tuple[int, object]:
    return http_json(f"{rig.control_url}{path}", method=method)
