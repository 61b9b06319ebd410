"""The dispatcher against the emulator and a worker with no consumer, so nothing releases its
reservations but the dispatcher itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.queue.rig import GROUP, STREAM, RedisServer, produce, start_dispatcher
from tests.support import ENDPOINT, REPO, EmulatorView, free_port, wait_until


def run_dispatcher(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dispatcher", "--endpoint", ENDPOINT,
                           "--instance", "local", "--max-workers", "1", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(("args", "message"), [
    ((), "no Redis: pass --redis-url or set REDIS_URL"),
    (("--redis-url", "http://127.0.0.1:6379"), "is not a Redis URL"),
    (("--redis-url", "redis://127.0.0.1:6379", "--max-workers", "0"), "at least 1"),
])
def test_bad_arguments_are_refused(args: tuple[str, ...], message: str) -> None:
    result = run_dispatcher(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_unreachable_redis_is_a_one_line_error() -> None:
    port = free_port()
    result = run_dispatcher("--redis-url", f"redis://:pw@127.0.0.1:{port}/0")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"dispatcher: cannot use Redis at redis://:***@127.0.0.1:{port}/0: ")
    assert line.endswith("check --redis-url and that Redis is running")


def test_holds_up_to_max_workers_and_closes_all_on_sigterm(
        tmp_path: Path, supervised, emulator: EmulatorView, redis_server: RedisServer) -> None:
    rig = supervised()  # no consumer: only the dispatcher ends reservations
    produce(redis_server.client, 5, seconds=1)
    dispatcher = start_dispatcher(tmp_path, emulator.url, redis_server.url, 2)
    wait_until("one reservation held and one waiting for a worker",
               lambda: "depth 5 (waiting 5, running 0), held 1, reserving 1" in dispatcher.logs())
    assert dispatcher.stop() == 0
    logs = dispatcher.logs()
    assert "stopping: closing 1 reservations, cancelling 1 still waiting" in logs
    assert "closed (dispatcher stopping): session" in logs
    assert "stopped: 1 reserved, 0 released by consumers, 0 expired, 1 closed" in logs
    assert "by the client" in rig.logs()
    wait_until("the worker to be free", lambda: emulator.worker_free(rig.container_id))


def test_closes_a_surplus_reservation_when_the_queue_drains(
        tmp_path: Path, supervised, emulator: EmulatorView, redis_server: RedisServer) -> None:
    rig = supervised()
    client = redis_server.client
    produce(client, 1, seconds=1)
    dispatcher = start_dispatcher(tmp_path, emulator.url, redis_server.url, 3)
    wait_until("the reservation", lambda: "held 1, reserving 0" in dispatcher.logs())

    # The job is taken and acknowledged by a consumer elsewhere that needed no reservation.
    [(_, [(entry_id, _)])] = client.xreadgroup(GROUP, "elsewhere", {STREAM: ">"}, count=1)
    client.xack(STREAM, GROUP, entry_id)
    wait_until("the surplus to be closed",
               lambda: "closed (surplus: the queue drained)" in dispatcher.logs(), timeout=15)
    assert "by the client" in rig.logs()
    wait_until("the worker to be free", lambda: emulator.worker_free(rig.container_id))
    assert dispatcher.stop() == 0
