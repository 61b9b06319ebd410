"""Process-level rig: the emulator, and supervisord running the worker and a consumer,
all as processes on 127.0.0.1 started from the image's own entrypoint and config."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.process.rig import Supervised, make_home
from tests.support import REPO, EmulatorView, free_port, wait_until


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorView]:
    port = free_port()
    log = (tmp_path / "emulator.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    view = EmulatorView(f"http://127.0.0.1:{port}")
    try:
        wait_until("the emulator to answer", view.state, timeout=20)
        yield view
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.fixture
def supervised(tmp_path: Path, emulator: EmulatorView) -> Iterator[Callable[..., Supervised]]:
    started: list[Supervised] = []

    def start(consumer_cmd: str | None = None, **extra_env: str) -> Supervised:
        home = make_home(tmp_path / f"c{len(started)}")
        worker_port, http_port, control_port = free_port(), free_port(), free_port()
        container_id = 100 + len(started)
        env = {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(REPO),
            "NULL_WORKER_HOME": str(home),
            "NULL_ENVIRONMENT_FILE": str(home / "environment"),
            "CONTAINER_ID": str(container_id),
            "PUBLIC_IPADDR": "127.0.0.1",
            "WORKER_PORT": str(worker_port),
            "WORKER_HTTP_PORT": str(http_port),
            f"VAST_TCP_PORT_{worker_port}": str(worker_port),
            "NULL_CONTROL_PORT": str(control_port),
            "REPORT_ADDR": emulator.url,
            "USE_SSL": "false",
            "CONSUMER_STOP_SECONDS": "10",
            **extra_env,
        }
        if consumer_cmd is not None:
            env["CONSUMER_CMD"] = consumer_cmd
        log_path = home / "container.log"
        # Appending: supervisord reopens /dev/fd/1 for each program, and writes through
        # separate offsets into a file opened for writing would overwrite each other.
        process = subprocess.Popen(
            [str(REPO / "image" / "entrypoint.sh")], env=env, cwd=home,
            stdout=log_path.open("a"), stderr=subprocess.STDOUT, start_new_session=True)
        rig = Supervised(process, home, log_path, container_id, worker_port, http_port,
                         control_port)
        started.append(rig)
        try:
            wait_until("the worker to report ready",
                       lambda: emulator.worker_free(container_id) or process.poll() is not None,
                       timeout=30)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{rig.logs()}") from None
        assert process.poll() is None, rig.logs()
        return rig

    yield start
    for rig in started:
        rig.stop()
