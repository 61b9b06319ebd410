"""Reserve/release speed, driven inside a worker container (the control server is on its
loopback only), and how long a /release takes to reach the autoscaler."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from docker.models.containers import Container

from bench.report import percentile, summary
from bench.rig import BenchError, Rig

DRIVER = Path(__file__).resolve().parent / "driver.py"
DRIVER_IN_CONTAINER = "/tmp/bench-driver.py"
IMAGE_PYTHON = "/opt/null-worker/bin/python"
FIRST_REQNUM = 1_000_000
WARMUP = 20


def copy_driver(container: Container) -> None:
    data = DRIVER.read_bytes()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo(Path(DRIVER_IN_CONTAINER).name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    container.put_archive(str(Path(DRIVER_IN_CONTAINER).parent), archive.getvalue())


def drive(container: Container, auth_data: dict[str, Any], cycles: int, paced: int,
          pause: float) -> dict[str, Any]:
    copy_driver(container)
    plan = {"auth_data": auth_data, "cycles": cycles, "paced": paced, "pause": pause,
            "first_reqnum": FIRST_REQNUM, "warmup": WARMUP}
    result = container.exec_run([IMAGE_PYTHON, DRIVER_IN_CONTAINER, json.dumps(plan)],
                                demux=True)
    stdout, stderr = result.output
    if result.exit_code != 0:
        raise BenchError(f"the load driver failed ({result.exit_code}):\n"
                         f"{(stderr or b'').decode(errors='replace')[-2000:]}")
    return json.loads(stdout)


def cycle_figures(driven: dict[str, Any]) -> dict[str, Any]:
    seconds = driven["cycle_seconds"]
    return {"n": len(seconds), "p50_s": percentile(seconds, 50),
            "p99_s": percentile(seconds, 99), "max_s": max(seconds),
            "per_second": len(seconds) / driven["wall_seconds"]}


def release_latencies(rig: Rig, releases: list[dict[str, float]],
                      timeout: float = 10) -> list[float]:
    """Seconds from each /release to the emulator receiving its /delete_requests/."""
    wanted = {r["request_idx"]: r["released_at"] for r in releases}

    def received() -> dict[int, float] | None:
        finished = {f["request_idx"]: f["received_at"] for f in rig.state()["finished_requests"]
                    if f["request_idx"] in wanted}
        return finished if len(finished) == len(wanted) else None

    finished = rig.wait_until("every paced release to reach the emulator", received, timeout)
    return [finished[idx] - released_at for idx, released_at in wanted.items()]


def measure(rig: Rig, container: Container, cycles: int, paced: int,
            pause: float) -> tuple[dict[str, Any], dict[str, Any]]:
    driven = drive(container, rig.signed_auth_data(), cycles, paced, pause)
    latency = release_latencies(rig, driven["releases"])
    return cycle_figures(driven), {"latency": summary(latency), "pause_s": pause}
