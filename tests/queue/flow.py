"""What the end-to-end queue tests assert, whether workers are processes or containers."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable

import redis

from tests.queue.rig import (
    DispatcherProcess,
    queue_drained,
    runs,
    runs_per_job,
    sessions_in,
    stats,
)
from tests.support import EmulatorView, wait_until


def wait_all_done(client: redis.Redis, jobs: Iterable[str], timeout: float) -> float:
    """Wait until every job ran at least once and the queue is empty; seconds it took."""
    wanted = set(jobs)
    started = time.monotonic()
    wait_until(f"all {len(wanted)} jobs done and acknowledged",
               lambda: set(runs_per_job(client)) >= wanted and queue_drained(client),
               timeout=timeout, interval=0.5)
    return time.monotonic() - started


def duplicates(runs: Counter[str]) -> int:
    return sum(count - 1 for count in runs.values())


def assert_every_reservation_ended(worker_logs: Iterable[str]) -> int:
    """Every session a worker logged as reserved it also logged as released or expired."""
    total = 0
    for logs in worker_logs:
        reserved, ended = sessions_in(logs)
        assert reserved <= ended, f"still held: {reserved - ended}\n{logs}"
        total += len(reserved)
    return total


def assert_load_back_to_zero(emulator: EmulatorView, worker_ids: Iterable[int]) -> None:
    ids = set(worker_ids)

    def idle() -> bool:
        state = emulator.state()
        loads = [w["cur_load"] for w in state["workers"] if w["id"] in ids]
        return len(loads) == len(ids) and not any(loads) and not state["pending_routes"]

    wait_until("the emulator to see no load on the workers", idle, timeout=20)


def finish_dispatcher(dispatcher: DispatcherProcess) -> str:
    wait_until("the dispatcher to hold nothing", dispatcher.idle, timeout=30)
    assert dispatcher.stop() == 0, dispatcher.logs()
    logs = dispatcher.logs()
    assert "stopped: " in logs
    return logs


def assert_each_job_done_once(client: redis.Redis, jobs: list[str], workers: list,
                              emulator: EmulatorView, dispatcher_logs: str) -> int:
    """Every job ran once, on the given workers, every reservation ended, the autoscaler
    sees no load and the dispatcher lost nothing; the number of reservations made."""
    assert runs_per_job(client) == dict.fromkeys(jobs, 1)
    assert stats(client) == {"done": len(jobs)}
    assert {run["consumer"] for run in runs(client)} == {str(w.container_id) for w in workers}
    reservations = assert_every_reservation_ended(w.logs() for w in workers)
    assert reservations >= len(jobs)
    assert_load_back_to_zero(emulator, (w.container_id for w in workers))
    assert " 0 lost, 0 failed" in dispatcher_logs
    return reservations


def summary(name: str, client: redis.Redis, seconds: float, reservations: int) -> str:
    runs = runs_per_job(client)
    line = (f"{name}: {len(runs)} jobs, {sum(runs.values())} runs, {duplicates(runs)} "
            f"duplicate runs, stats {stats(client)}, {reservations} reservations, "
            f"{seconds:.1f}s")
    print(line)
    return line
