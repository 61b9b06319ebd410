"""Cold start: wall clock from `docker run` to the emulator's first /worker_status/ that shows
the worker loaded, for null-worker and for the stock path on the same base."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docker.models.containers import Container

from bench.memory import container_memory
from bench.report import summary
from bench.rig import Rig
from bench.sizes import container_written_bytes

STOCK_DIR = Path(__file__).resolve().parent / "stock"
OURS_TIMEOUT = 60.0
STOCK_TIMEOUT = 300.0
Inspect = Callable[[Container], None]


def one_start(rig: Rig, image: str, container_id: int, timeout: float,
              inspect: Inspect | None = None, **options: Any) -> dict[str, float]:
    """Start one container, wait for it to report loaded, time it, remove it."""
    container, started = rig.run(image, container_id, **options)
    try:
        record = rig.wait_loaded(container, container_id, timeout)
        if inspect is not None:
            inspect(container)
    finally:
        rig.remove(container)
    return {"loaded_s": record["loaded_at"] - started,
            "first_report_s": record["first_seen_at"] - started,
            "observed_s": record["observed_at"] - started}


def series(rig: Rig, runs: int, first_id: int, start: Callable[[int], dict[str, float]],
           say: Callable[[str], None]) -> dict[str, Any]:
    starts = []
    for run in range(runs):
        starts.append(start(first_id + run))
        say(f"run {run + 1}/{runs}: loaded after {starts[-1]['loaded_s']:.3f} s")
    result = summary([s["loaded_s"] for s in starts])
    result["first_report"] = summary([s["first_report_s"] for s in starts])
    result["observed_by_polling"] = summary([s["observed_s"] for s in starts])
    return result


def ours(rig: Rig, image: str, runs: int, use_ssl: bool, first_id: int,
         say: Callable[[str], None]) -> dict[str, Any]:
    return series(rig, runs, first_id,
                  lambda cid: one_start(rig, image, cid, OURS_TIMEOUT, use_ssl=use_ssl), say)


def stock(rig: Rig, base: str, runs: int, first_id: int, idle_seconds: float,
          say: Callable[[str], None]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stock path's cold starts; on the last run also its idle memory and boot writes."""
    extra: dict[str, Any] = {}

    def inspect_last(container: Container) -> None:
        extra["written_at_boot_bytes"] = container_written_bytes(container.name)
        time.sleep(idle_seconds)
        extra["memory"] = container_memory(container)

    def start(cid: int) -> dict[str, float]:
        last = cid == first_id + runs - 1
        return one_start(rig, base, cid, STOCK_TIMEOUT, inspect_last if last else None,
                         entrypoint=["/bin/bash", "/stock/boot.sh"],
                         volumes={str(STOCK_DIR): {"bind": "/stock", "mode": "ro"}})

    return series(rig, runs, first_id, start, say), extra
