"""Jobs through worker containers built FROM the image with consumer-example/Dockerfile, a Redis
container and the emulator on the test's Docker network, and the dispatcher on the host."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.image.fleet import Fleet, WorkerContainer
from tests.queue.containers import RedisContainer, consumer_pid, docker_kill, kill_consumer
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
    DispatcherProcess,
    consumer_env,
    pending_by_consumer,
    produce,
    runs_per_job,
    start_dispatcher,
    stats,
)
from tests.support import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def workers(fleet: Fleet, consumer_image: str,
            redis_container: RedisContainer) -> list[WorkerContainer]:
    env = consumer_env(redis_container.url_inside)
    started = [fleet.start_worker(image=consumer_image, wait_ready=False, **env)
               for _ in range(3)]
    for worker in started:
        fleet.wait_ready(worker)
    return started


@pytest.fixture
def dispatch(tmp_path: Path, fleet: Fleet,
             redis_container: RedisContainer) -> Iterator[Callable[[], DispatcherProcess]]:
    started: list[DispatcherProcess] = []

    def start() -> DispatcherProcess:
        dispatcher = start_dispatcher(tmp_path, fleet.emulator.url, redis_container.url, 3)
        started.append(dispatcher)
        return dispatcher

    yield start
    for dispatcher in started:
        dispatcher.stop()


def busy_worker(workers: list[WorkerContainer], client,
                exclude: frozenset[int] = frozenset()) -> WorkerContainer:
    def find() -> WorkerContainer | None:
        holders = pending_by_consumer(client)
        return next((w for w in workers if str(w.container_id) in holders
                     and w.container_id not in exclude), None)
    return wait_until("a consumer to be mid-job", find, timeout=30, interval=0.1)


def test_fifty_jobs_run_exactly_once_through_three_containers(
        fleet: Fleet, workers, dispatch, redis_container: RedisContainer) -> None:
    client = redis_container.client
    jobs = produce(client, 50, seconds=0.2)
    started = time.monotonic()
    dispatcher = dispatch()
    wait_all_done(client, jobs, timeout=180)
    took = time.monotonic() - started
    logs = finish_dispatcher(dispatcher)

    reservations = assert_each_job_done_once(client, jobs, workers, fleet.emulator, logs)
    summary("image, 50 jobs", client, took, reservations)


def test_a_killed_container_and_a_killed_consumer_lose_no_job(
        fleet: Fleet, workers, dispatch, redis_container: RedisContainer) -> None:
    client = redis_container.client
    pids = {w.container_id: consumer_pid(w) for w in workers}
    jobs = produce(client, 20, seconds=2)
    started = time.monotonic()
    dispatcher = dispatch()
    gone = busy_worker(workers, client)
    docker_kill(gone)
    restarted = busy_worker(workers, client, exclude=frozenset({gone.container_id}))
    kill_consumer(restarted, pids[restarted.container_id])

    wait_all_done(client, jobs, timeout=150)
    took = time.monotonic() - started
    logs = finish_dispatcher(dispatcher)
    per_job = runs_per_job(client)
    assert set(per_job) == set(jobs)
    assert stats(client).get("duplicate_runs", 0) <= duplicates(per_job)
    assert stats(client)["reclaimed"] >= 2
    assert "lost (worker unreachable" in logs
    alive = [w for w in workers if w is not gone]
    reservations = assert_every_reservation_ended(w.logs() for w in alive)
    assert_load_back_to_zero(fleet.emulator, (w.container_id for w in alive))
    summary("image, docker kill + consumer SIGKILL", client, took, reservations)
