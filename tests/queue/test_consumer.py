"""The Redis consumer example as CONSUMER_CMD beside a supervised worker, reserved with the SDK."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.process.rig import Supervised
from tests.queue.rig import (
    CONSUMER_SRC,
    GROUP,
    STREAM,
    RedisServer,
    consumer_env,
    pending_by_consumer,
    produce,
    runs_per_job,
    stats,
)
from tests.support import API_KEY, ENDPOINT, REPO, free_port, wait_until
from worker.client import is_held, make_client

CONSUMER_CMD = f"{sys.executable} -m redis_consumer"
PYTHONPATH = f"{REPO}{os.pathsep}{CONSUMER_SRC}"


def start_consumer_alone(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "redis_consumer"], text=True, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(CONSUMER_SRC),
             "NULL_CONTROL_PORT": str(free_port()), "CONTAINER_ID": "7", **env})


def read_until(process: subprocess.Popen, text: str, timeout: float = 15) -> str:
    """The consumer's output up to the first line containing `text`."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"no line with {text!r} in:\n{''.join(seen)}")


@pytest.mark.parametrize(("url", "message"), [
    ("", "consumer: REDIS_URL is not set: set it to your queue's Redis"),
    ("http://127.0.0.1:6379", "consumer: REDIS_URL='http://127.0.0.1:6379' is not a Redis URL"),
    ("redis://:secret@127.0.0.1:port/0", "consumer: REDIS_URL='redis://:***@"),
])
def test_a_wrong_redis_url_is_a_one_line_error(url: str, message: str) -> None:
    process = start_consumer_alone({"REDIS_URL": url})
    output, _ = process.communicate(timeout=15)
    assert process.returncode == 2
    assert output.startswith(message)
    assert output.count("\n") == 1
    assert "secret" not in output


def test_unreachable_redis_is_a_one_line_error_and_sigterm_stops_it() -> None:
    port = free_port()
    process = start_consumer_alone({"REDIS_URL": f"redis://:pw@127.0.0.1:{port}/0"})
    try:
        line = read_until(process, "cannot reach Redis").splitlines()[-1]
        assert f"cannot reach Redis at redis://:***@127.0.0.1:{port}/0: " in line
        assert line.endswith("check REDIS_URL and that Redis is running")
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        process.kill()
        process.wait()


def test_a_missing_stream_is_a_one_line_error(redis_server: RedisServer) -> None:
    process = start_consumer_alone({"REDIS_URL": redis_server.url, "QUEUE_STREAM": "typo"})
    try:
        line = read_until(process, "does not exist").splitlines()[-1]
        assert "stream 'typo' does not exist in Redis at redis://127.0.0.1:" in line
        assert "check QUEUE_STREAM" in line
        assert not redis_server.client.exists("typo")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)


def start_worker(supervised, redis_server: RedisServer, **env: str) -> Supervised:
    redis_server.client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    return supervised(CONSUMER_CMD, PYTHONPATH=PYTHONPATH,
                      **consumer_env(redis_server.url, **env))


async def test_reserved_worker_runs_one_job_acknowledges_and_releases(
        supervised, emulator, redis_server: RedisServer) -> None:
    rig = start_worker(supervised, redis_server)
    [job] = produce(redis_server.client, 1, seconds=0.5)
    async with make_client("local", API_KEY, emulator.url) as client:
        endpoint = await client.get_endpoint(ENDPOINT)
        session = await endpoint.session(cost=100, lifetime=60, timeout=30)
        wait_until("the consumer to release", lambda: f"released: session {session.session_id}"
                   in rig.logs(), timeout=15)
        assert not await is_held(session)
    assert runs_per_job(redis_server.client) == {job: 1}
    assert stats(redis_server.client) == {"done": 1}
    assert pending_by_consumer(redis_server.client) == {}
    logs = rig.logs()
    assert logs.index(f"claimed: job {job}") < logs.index(f"done: job {job}") \
        < logs.index(f"released: session {session.session_id}")


async def test_with_no_job_the_reservation_is_released_after_the_grace(
        supervised, emulator, redis_server: RedisServer) -> None:
    rig = start_worker(supervised, redis_server, QUEUE_IDLE_GRACE_SECONDS="2")
    async with make_client("local", API_KEY, emulator.url) as client:
        endpoint = await client.get_endpoint(ENDPOINT)
        session = await endpoint.session(cost=100, lifetime=60, timeout=30)
        wait_until("the consumer to give the reservation back",
                   lambda: f"released: session {session.session_id}" in rig.logs(), timeout=15)
        assert not await is_held(session)
    assert (f"no job within 2s while reserved: releasing session {session.session_id}"
            in rig.logs())
    wait_until("the worker to be free", lambda: emulator.worker_free(rig.container_id))


async def test_sigterm_lets_the_running_job_finish(
        supervised, emulator, redis_server: RedisServer) -> None:
    rig = start_worker(supervised, redis_server, CONSUMER_STOP_SECONDS="10")
    [job] = produce(redis_server.client, 1, seconds=3)
    async with make_client("local", API_KEY, emulator.url) as client:
        endpoint = await client.get_endpoint(ENDPOINT)
        await endpoint.session(cost=100, lifetime=60, timeout=30)
        wait_until("the job to start", lambda: f"claimed: job {job}" in rig.logs())
        assert rig.stop() == 0
    assert runs_per_job(redis_server.client) == {job: 1}
    assert pending_by_consumer(redis_server.client) == {}
    assert "stopping: finishing job" in rig.logs()


async def test_sigterm_leaves_a_job_that_outlasts_the_stop_grace_pending(
        supervised, emulator, redis_server: RedisServer) -> None:
    rig = start_worker(supervised, redis_server, CONSUMER_STOP_SECONDS="3")
    [job] = produce(redis_server.client, 1, seconds=60)
    async with make_client("local", API_KEY, emulator.url) as client:
        endpoint = await client.get_endpoint(ENDPOINT)
        await endpoint.session(cost=100, lifetime=60, timeout=30)
        wait_until("the job to start", lambda: f"claimed: job {job}" in rig.logs())
        started = time.monotonic()
        assert rig.stop() == 0
        assert time.monotonic() - started < 10
    assert runs_per_job(redis_server.client) == {}
    assert stats(redis_server.client) == {}
    assert list(pending_by_consumer(redis_server.client)) == [str(rig.container_id)]
    assert f"job {job} not finished within" in rig.logs()


async def test_a_failing_job_is_retried_then_dead_lettered(
        supervised, emulator, redis_server: RedisServer) -> None:
    rig = start_worker(supervised, redis_server, QUEUE_MAX_DELIVERIES="1",
                       QUEUE_VISIBILITY_SECONDS="1", QUEUE_IDLE_GRACE_SECONDS="5")
    redis_server.client.xadd(STREAM, {"job_id": "bad", "seconds": "0", "fail": "yes"})
    async with make_client("local", API_KEY, emulator.url) as client:
        endpoint = await client.get_endpoint(ENDPOINT)
        await endpoint.session(cost=100, lifetime=60, timeout=30)
        wait_until("the job to fail", lambda: "failed: job bad" in rig.logs())
        await endpoint.session(cost=100, lifetime=60, timeout=30)
        wait_until("the job to be dead-lettered", lambda: "dead letter: job bad" in rig.logs())
    assert stats(redis_server.client) == {"failed": 1, "dead": 1}
    assert redis_server.client.xlen(f"{STREAM}:dead") == 1
    assert pending_by_consumer(redis_server.client) == {}


def test_the_consumer_package_has_no_dependency_on_this_repository() -> None:
    sources = "".join(p.read_text() for p in Path(CONSUMER_SRC, "redis_consumer").glob("*.py"))
    assert "import worker" not in sources
    assert "from worker" not in sources
