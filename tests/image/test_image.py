"""The image as Vast runs it: containers with Vast's environment, the emulator, the real SDK."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request

import pytest

from tests.image.fleet import Fleet
from tests.support import API_KEY, ENDPOINT, reserve_hold_close, wait_until
from worker.client import is_held, make_client, release

# Waits until reserved, records the session, holds it until /tmp/done exists, releases.
CURL_CONSUMER = (
    "while :; do "
    "s=$(curl -fsS 'http://127.0.0.1:18999/session?wait=30') || { sleep 0.5; continue; }; "
    "echo \"got $s\"; while [ ! -e /tmp/done ]; do sleep 0.2; done; rm -f /tmp/done; "
    "echo \"release $(curl -fsS -X POST http://127.0.0.1:18999/release)\"; done"
)


def post_json(url: str, body: object) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_worker_reports_ready_with_max_perf_100(fleet: Fleet) -> None:
    worker = fleet.start_worker()
    seen = fleet.emulator.worker(worker.container_id)
    assert seen["max_perf"] == 100
    assert seen["url"] == worker.url
    assert "ready: max_perf 100" in worker.logs()


async def test_reserve_hold_release_by_consumer_curl(fleet: Fleet) -> None:
    worker = fleet.start_worker(CONSUMER_CMD=CURL_CONSUMER)
    async with make_client("local", API_KEY, fleet.emulator.url) as client:
        endpoint = await client.get_endpoint(ENDPOINT)
        session = await endpoint.session(cost=100, lifetime=120, timeout=30)
        assert session.url == worker.url
        wait_until("the consumer to see the reservation",
                   lambda: f"got {{\"id\": \"{session.session_id}\"" in worker.logs())
        wait_until("the emulator to see the load",
                   lambda: fleet.emulator.worker(worker.container_id)["cur_load"] == 100)

        # While it is held, the worker refuses a second reservation, and the emulator
        # routes no other client to it: an SDK reservation waits for a new worker.
        # (The autoscaler signs only the URL, so a fresh request number passes the checks.)
        second = {**session.auth_data, "reqnum": 10**6, "request_idx": 10**6}
        assert post_json(f"{worker.url}/session/create",
                         {"auth_data": second, "payload": {"lifetime": 30}}) == 429
        with pytest.raises(asyncio.TimeoutError):
            await endpoint.session(cost=100, lifetime=30, timeout=3)

        assert worker.exec("touch", "/tmp/done")[0] == 0
        request_idx = session.auth_data["request_idx"]
        wait_until("the emulator to hear of the release",
                   lambda: any(r["request_idx"] == request_idx
                               for r in fleet.emulator.finished(worker.container_id)))
        wait_until("the worker to be free", lambda: fleet.emulator.worker_free(worker.container_id))
        assert not await is_held(session)
        assert await release(client, session) == "consumer"
    assert f"released: session {session.session_id} by the consumer" in worker.logs()


async def test_sdk_close_releases_and_worker_takes_the_next(fleet: Fleet) -> None:
    worker = fleet.start_worker()
    async with make_client("local", API_KEY, fleet.emulator.url) as client:
        endpoint = await client.get_endpoint(ENDPOINT)
        first = await endpoint.session(cost=100, lifetime=60, timeout=30)
        waiting = asyncio.ensure_future(endpoint.session(cost=100, lifetime=60, timeout=60))
        await asyncio.sleep(2)
        assert not waiting.done()
        assert await release(client, first) == "client"
        second = await asyncio.wait_for(waiting, 30)
        assert second.url == worker.url
        assert await is_held(second)
        assert await release(client, second) == "client"
    wait_until("the worker to be free", lambda: fleet.emulator.worker_free(worker.container_id))


def test_consumer_cmd_runs_verbatim_in_a_shell(fleet: Fleet) -> None:
    command = ("printf '%s|' \"a b\" 'c$d' \"$HOSTNAME\" | tr a-z A-Z > /tmp/out "
               "&& echo '100% done' >> /tmp/out && export X=1 && echo \"x=$X\" >> /tmp/out; "
               "sleep 300")
    worker = fleet.start_worker(CONSUMER_CMD=command)
    wait_until("the consumer to write its output",
               lambda: worker.exec("cat", "/tmp/out")[0] == 0)
    output = worker.exec("cat", "/tmp/out")[1]
    hostname = worker.exec("hostname")[1].strip().upper()
    assert output.splitlines() == [f"A B|C$D|{hostname}|100% done", "x=1"]


def test_no_consumer_cmd_runs_the_worker_alone_with_one_warning(fleet: Fleet) -> None:
    worker = fleet.start_worker()
    logs = worker.logs()
    assert logs.count("CONSUMER_CMD is empty") == 1
    assert "spawned: 'consumer'" not in logs


def test_docker_stop_sends_sigterm_to_the_consumers_group_first(fleet: Fleet) -> None:
    consumer = ("trap 'echo consumer got TERM; exit 0' TERM; "
                "sh -c 'trap \"echo child got TERM; exit 0\" TERM; while :; do sleep 0.1; done' & "
                "wait")
    worker = fleet.start_worker(CONSUMER_CMD=consumer)
    wait_until("the consumer to run", lambda: "success: consumer" in worker.logs())
    wrapped = worker.container.get_wrapped_container()
    wrapped.stop(timeout=40)
    wrapped.reload()
    assert wrapped.attrs["State"]["ExitCode"] == 0
    logs = worker.logs()
    assert "consumer got TERM" in logs
    assert "child got TERM" in logs
    assert logs.index("stopped: consumer") < logs.index("stopped: worker")


def test_slow_consumer_gets_the_grace_period(fleet: Fleet) -> None:
    consumer = ("trap 'echo finishing; sleep 3; echo finished; exit 0' TERM; "
                "while :; do sleep 0.1; done")
    worker = fleet.start_worker(CONSUMER_CMD=consumer, CONSUMER_STOP_SECONDS="8")
    wait_until("the consumer to run", lambda: "success: consumer" in worker.logs())
    started = time.monotonic()
    worker.container.get_wrapped_container().stop(timeout=40)
    assert 3 <= time.monotonic() - started < 20
    assert "finished" in worker.logs()


def test_control_port_is_reachable_only_from_inside(fleet: Fleet) -> None:
    worker = fleet.start_worker()
    code, output = worker.exec("curl", "-fsS", "http://127.0.0.1:18999/health")
    assert code == 0, output
    alias = f"worker{worker.container_id}"
    # From another container on the same network: the worker port answers, the control
    # port refuses the connection.
    code, output = fleet.run_once("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                                  f"http://{alias}:3000/session/get")
    assert output.strip().endswith("422") or code == 0, output
    code, output = fleet.run_once("curl", "-sS", "--max-time", "5",
                                  f"http://{alias}:18999/health")
    assert code == 7, output  # curl: failed to connect
    code, output = worker.exec("sh", "-c", "cat /proc/net/tcp")
    control_port = format(18999, "04X")
    listeners = [line.split()[1] for line in output.splitlines()[1:]
                 if line.split()[1].endswith(f":{control_port}") and line.split()[3] == "0A"]
    assert listeners == [f"0100007F:{control_port}"]


def test_dead_backend_health_url_is_reported_as_an_error(fleet: Fleet) -> None:
    health_server = ("mkdir -p /tmp/h && echo ok > /tmp/h/health && cd /tmp/h && "
                     "exec python3 -m http.server 9090 --bind 127.0.0.1")
    worker = fleet.start_worker(CONSUMER_CMD=health_server,
                                BACKEND_HEALTH_URL="http://127.0.0.1:9090/health")
    code, output = worker.exec("/opt/null-worker/bin/supervisorctl", "-c",
                               "/opt/null-worker/etc/supervisord.conf", "stop", "consumer")
    assert code == 0, output
    wait_until("the emulator to see the worker errored",
               lambda: fleet.emulator.worker(worker.container_id)["errored"], timeout=30)
    assert "health failed" in worker.logs()


@pytest.mark.parametrize("use_ssl", ["true", "false"])
def test_missing_vast_variable_stops_the_container_with_one_line(fleet: Fleet,
                                                                 use_ssl: str) -> None:
    code, output = fleet.run_once("/usr/local/bin/null-worker-entrypoint",
                                  env={"USE_SSL": use_ssl})
    assert code != 0
    assert output.strip() == ("null-worker: CONTAINER_ID is not set: Vast sets it on every "
                              "instance; outside Vast, set any integer")


def test_a_port_in_use_stops_the_container_with_one_line(fleet: Fleet) -> None:
    code, output = fleet.run_once(
        "sh", "-c", "/opt/null-worker/bin/python -m http.server 18999 --bind 127.0.0.1 "
        ">/dev/null 2>&1 & sleep 0.5; exec /usr/local/bin/null-worker-entrypoint",
        env={"USE_SSL": "false", "CONTAINER_ID": "1", "PUBLIC_IPADDR": "127.0.0.1",
             "VAST_TCP_PORT_3000": "3000"})
    assert code != 0
    assert output.strip().startswith("null-worker: NULL_CONTROL_PORT=18999 cannot be used")


async def test_use_ssl_serves_https_with_a_certificate_from_the_emulator(fleet: Fleet) -> None:
    worker = fleet.start_worker(USE_SSL="true")
    assert worker.url.startswith("https://")
    assert "TLS certificate obtained" in worker.logs()
    await reserve_hold_close(fleet.emulator.url, worker.url)


def test_use_ssl_without_a_signer_stops_the_container(fleet: Fleet) -> None:
    worker = fleet.start_worker(
        wait_ready=False, USE_SSL="true",
        NULL_CERT_SIGN_URL="http://emulator:8080/no-such-signer/")
    wait_until("the container to stop", lambda: worker.status() == "exited")
    logs = worker.logs()
    assert "could not get a TLS certificate from http://emulator:8080/no-such-signer/" in logs
    assert "set USE_SSL=false" in logs
