"""Jobs through three supervised workers and the dispatcher, on loopback, with faults."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.process.rig import Supervised
from tests.queue.flow import (
    assert_each_job_done_once,
    assert_every_reservation_ended,
    assert_load_back_to_zero,
    duplicates,
    finish_dispatcher,
    summary,
    wait_all_done,
)
from tests.queue.rig import (
    CONSUMER_SRC,
    DispatcherProcess,
    RedisServer,
    consumer_env,
    pending_by_consumer,
    produce,
    runs_per_job,
    start_dispatcher,
    stats,
)
from tests.support import REPO, EmulatorView, wait_until

pytestmark = pytest.mark.slow

CONSUMER_CMD = f"{sys.executable} -m redis_consumer"
PYTHONPATH = f"{REPO}{os.pathsep}{CONSUMER_SRC}"


@pytest.fixture
def workers(supervised, redis_server: RedisServer) -> Iterator[list[Supervised]]:
    env = consumer_env(redis_server.url)
    started = [supervised(CONSUMER_CMD, PYTHONPATH=PYTHONPATH, **env) for _ in range(3)]
    yield started
    # All at once: each worker can take its full stop timeout.
    for worker in started:
        if worker.process.poll() is None:
            worker.process.send_signal(signal.SIGTERM)
    for worker in started:
        worker.stop()


@pytest.fixture
def dispatch(tmp_path: Path, emulator: EmulatorView,
             redis_server: RedisServer) -> Iterator[Callable[..., DispatcherProcess]]:
    started: list[DispatcherProcess] = []

    def start(*extra: str) -> DispatcherProcess:
        dispatcher = start_dispatcher(tmp_path, emulator.url, redis_server.url, 3, *extra)
        started.append(dispatcher)
        return dispatcher

    yield start
    for dispatcher in started:
        dispatcher.stop()


def busy_worker(workers: list[Supervised], client, exclude: set[int] = frozenset()) -> Supervised:
    """A worker whose consumer holds a job right now."""
    def find() -> Supervised | None:
        holders = pending_by_consumer(client)
        return next((w for w in workers if str(w.container_id) in holders
                     and w.container_id not in exclude), None)
    return wait_until("a consumer to be mid-job", find, timeout=30, interval=0.1)


def consumer_pid(worker: Supervised) -> int:
    """The consumer itself: the child of supervisord's run-consumer program."""
    runner = worker.pid_of("consumer")
    pid = int(Path(f"/proc/{runner}/task/{runner}/children").read_text().split()[0])
    assert b"redis_consumer" in Path(f"/proc/{pid}/cmdline").read_bytes()
    return pid


def test_fifty_jobs_run_exactly_once_through_three_workers(
        workers, dispatch, redis_server: RedisServer, emulator: EmulatorView) -> None:
    client = redis_server.client
    jobs = produce(client, 50, seconds=0.2)
    started = time.monotonic()
    dispatcher = dispatch()
    wait_all_done(client, jobs, timeout=150)
    took = time.monotonic() - started
    logs = finish_dispatcher(dispatcher)

    reservations = assert_each_job_done_once(client, jobs, workers, emulator, logs)
    summary("process, 50 jobs", client, took, reservations)


def test_a_consumer_killed_mid_job_leaves_it_for_another(
        workers, dispatch, redis_server: RedisServer, emulator: EmulatorView) -> None:
    client = redis_server.client
    pids = {w.container_id: consumer_pid(w) for w in workers}
    jobs = produce(client, 20, seconds=1)
    started = time.monotonic()
    dispatcher = dispatch()
    victim = busy_worker(workers, client)
    os.kill(pids[victim.container_id], signal.SIGKILL)

    wait_all_done(client, jobs, timeout=120)
    took = time.monotonic() - started
    finish_dispatcher(dispatcher)
    per_job = runs_per_job(client)
    assert set(per_job) == set(jobs)
    # A run killed after its work but before its acknowledgement is repeated and the
    # consumer cannot know; the runs the test counts are the truth, the consumer's a floor.
    assert stats(client).get("duplicate_runs", 0) <= duplicates(per_job)
    assert stats(client)["reclaimed"] >= 1
    assert "reclaimed: job" in "".join(w.logs() for w in workers)
    reservations = assert_every_reservation_ended(w.logs() for w in workers)
    assert_load_back_to_zero(emulator, (w.container_id for w in workers))
    summary("process, consumer SIGKILL", client, took, reservations)


def test_reservations_that_expire_mid_job_still_get_every_job_done(
        workers, dispatch, redis_server: RedisServer, emulator: EmulatorView) -> None:
    client = redis_server.client
    # The worker drops expired sessions every 5 s: with a lifetime of 1 s, every reservation
    # made for these jobs expires while its job still runs.
    jobs = produce(client, 3, seconds=6.5)
    started = time.monotonic()
    dispatcher = dispatch("--lifetime", "1")
    wait_all_done(client, jobs, timeout=120)
    took = time.monotonic() - started
    logs = finish_dispatcher(dispatcher)

    assert runs_per_job(client) == dict.fromkeys(jobs, 1)
    worker_logs = "".join(w.logs() for w in workers)
    assert "worker WARNING expired: session" in worker_logs
    # The worker drops expired sessions every few seconds, so the consumer notices the expiry
    # either while the job runs or when it goes to release.
    assert any(seen in worker_logs for seen in (
        "ended while job", "had already ended", "had ended; keeping the new session"))
    assert "expired: session" in logs
    reservations = assert_every_reservation_ended(w.logs() for w in workers)
    assert_load_back_to_zero(emulator, (w.container_id for w in workers))
    summary("process, reservations expire", client, took, reservations)


def test_a_stalled_consumer_makes_a_duplicate_that_is_counted(
        workers, dispatch, redis_server: RedisServer, emulator: EmulatorView) -> None:
    client = redis_server.client
    [stalled_job] = produce(client, 1, seconds=2, prefix="stalled")
    started = time.monotonic()
    dispatcher = dispatch()
    victim = busy_worker(workers, client)
    pid = consumer_pid(victim)
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(4 + 1)  # past QUEUE_VISIBILITY_SECONDS: the job looks abandoned
        [other_job] = produce(client, 1, seconds=0.2, prefix="other")
        busy_worker(workers, client, exclude={victim.container_id})
    finally:
        os.kill(pid, signal.SIGCONT)

    wait_all_done(client, [stalled_job, other_job], timeout=60)
    took = time.monotonic() - started
    finish_dispatcher(dispatcher)
    per_job = runs_per_job(client)
    assert per_job == {stalled_job: 2, other_job: 1}
    assert stats(client)["duplicate_runs"] == duplicates(per_job) == 1
    assert f"job {stalled_job} was reclaimed by consumer" in victim.logs()
    assert "duplicate run: job" in "".join(w.logs() for w in workers)
    reservations = assert_every_reservation_ended(w.logs() for w in workers)
    assert_load_back_to_zero(emulator, (w.container_id for w in workers))
    summary("process, stalled consumer", client, took, reservations)


