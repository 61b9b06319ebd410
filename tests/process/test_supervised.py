"""supervisord, the worker and a consumer as processes on loopback, driven by the real SDK."""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.process.rig import control
from tests.support import API_KEY, ENDPOINT, REPO, wait_until
from worker.client import is_held, make_client, release

CONSUMER = str(REPO / "consumer-example" / "consumer.sh")


async def test_sdk_reservation_is_released_by_the_consumers_curl(supervised, emulator) -> None:
    rig = supervised(CONSUMER, WORK_SECONDS="1")
    async with make_client("local", API_KEY, emulator.url) as client:
        endpoint = await client.get_endpoint(ENDPOINT)
        session = await endpoint.session(cost=100, lifetime=60, timeout=30)
        request_idx = session.auth_data["request_idx"]
        assert session.url == f"http://127.0.0.1:{rig.worker_port}"

        wait_until("the consumer to release",
                   lambda: any(r["request_idx"] == request_idx
                               for r in emulator.finished(rig.container_id)), timeout=15)
        wait_until("the worker to be free", lambda: emulator.worker_free(rig.container_id))
        assert not await is_held(session)
        assert await release(client, session) == "consumer"
    logs = rig.logs()
    assert f"reserved: session {session.session_id}" in logs
    assert f"released: session {session.session_id} by the consumer" in logs


async def test_sdk_close_releases_when_no_consumer_runs(supervised, emulator) -> None:
    rig = supervised()
    assert "CONSUMER_CMD is empty" in rig.logs()
    async with make_client("local", API_KEY, emulator.url) as client:
        endpoint = await client.get_endpoint(ENDPOINT)
        session = await endpoint.session(cost=100, lifetime=60, timeout=30)
        status, held = control(rig, "/session")
        assert status == 200
        assert held["id"] == session.session_id
        assert await is_held(session)
        assert await release(client, session) == "client"
    assert control(rig, "/session")[0] == 404
    wait_until("the worker to be free", lambda: emulator.worker_free(rig.container_id))


def test_consumer_restarts_after_it_exits(supervised, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    rig = supervised(f"echo run >> {runs}; sleep 2.5")
    wait_until("the consumer to run three times",
               lambda: runs.exists() and runs.read_text().count("run") >= 3, timeout=40)
    assert rig.process.poll() is None


def test_sigterm_reaches_the_consumers_process_group_before_the_worker(
        supervised, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    consumer = (f"trap 'echo parent-term >> {marks}; exit 0' TERM; "
                f"sh -c 'trap \"echo child-term >> {marks}; exit 0\" TERM; "
                f"while :; do sleep 0.1; done' & wait")
    rig = supervised(consumer)
    wait_until("the consumer to run", lambda: "success: consumer" in rig.logs())
    assert rig.stop() == 0
    assert sorted(marks.read_text().split()) == ["child-term", "parent-term"]
    logs = rig.logs()
    assert logs.index("stopped: consumer") < logs.index("stopped: worker")


def test_crash_looping_consumer_marks_the_worker_errored(supervised, emulator) -> None:
    rig = supervised("echo consumer starting; exit 3")
    wait_until("supervisord to give up on the consumer",
               lambda: "gave up: consumer entered FATAL state" in rig.logs(), timeout=60)
    status, health = control(rig, "/health")
    assert status == 503
    assert "the consumer is FATAL" in health["detail"]
    wait_until("the emulator to see the worker errored",
               lambda: emulator.worker(rig.container_id)["errored"], timeout=30)
    assert "health failed" in rig.logs()


async def test_killed_worker_is_restarted_with_no_stale_reservation(supervised, emulator) -> None:
    rig = supervised()
    async with make_client("local", API_KEY, emulator.url) as client:
        endpoint = await client.get_endpoint(ENDPOINT)
        session = await endpoint.session(cost=100, lifetime=600, timeout=30)
        old_pid = rig.pid_of("worker")
        os.kill(old_pid, signal.SIGKILL)
        wait_until("supervisord to restart the worker",
                   lambda: rig.pid_of("worker") not in (0, old_pid), timeout=30)
        wait_until("the restarted worker to report free",
                   lambda: emulator.worker_free(rig.container_id), timeout=30)
        assert control(rig, "/session")[0] == 404
        assert not await is_held(session)
        fresh = await endpoint.session(cost=100, lifetime=60, timeout=30)
        assert await release(client, fresh) == "client"


def test_both_public_ports_refuse_huge_bodies_and_keep_serving(supervised) -> None:
    rig = supervised()
    huge = b"{" + b" " * (64 * 1024 * 1024) + b"}"
    for port in (rig.worker_port, rig.http_port):
        request = urllib.request.Request(f"http://127.0.0.1:{port}/session/end", data=huge,
                                         headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 413
    status, _ = control(rig, "/health")
    assert status == 200
    request = urllib.request.Request(f"http://127.0.0.1:{rig.worker_port}/session/end",
                                     data=b'{"session_id": "x", "session_auth": {}}',
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as answered:
        urllib.request.urlopen(request, timeout=10)
    assert answered.value.code == 400  # the framework's own "not found": still serving


def test_what_a_consumer_leaves_running_ends_with_it(supervised, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    rig = supervised(f"sleep 1001.5 & echo run >> {runs}; sleep 2.5")
    wait_until("the consumer to run three times",
               lambda: runs.exists() and runs.read_text().count("run") >= 3, timeout=40)
    time.sleep(0.5)

    def leftovers() -> int:
        count = 0
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                count += cmdline.read_bytes() == b"sleep\x001001.5\x00"
            except OSError:
                continue
        return count

    assert leftovers() <= 1, "sleeps left behind by earlier consumers are still running"
    assert rig.process.poll() is None


async def test_stopping_releases_a_held_reservation_and_says_so(supervised, emulator) -> None:
    rig = supervised()
    async with make_client("local", API_KEY, emulator.url) as client:
        endpoint = await client.get_endpoint(ENDPOINT)
        session = await endpoint.session(cost=100, lifetime=600, timeout=30)
    assert rig.stop() == 0
    request_idx = session.auth_data["request_idx"]
    assert any(r["request_idx"] == request_idx for r in emulator.finished(rig.container_id))
    assert (f"released: session {session.session_id} by the worker, which is stopping"
            in rig.logs())
