"""The bench's Docker side: a network of its own, the emulator on it, and the containers
started on it, every published port on 127.0.0.1 and every name prefixed `nwbench-`."""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker
from docker.models.containers import Container
from docker.models.networks import Network

EMULATOR_PORT = 8080
API_KEY = "bench-key"
ENDPOINT = "null-demo"
POLL_SECONDS = 0.02


class BenchError(RuntimeError):
    """Something the bench needs did not happen; the message says what and what to do."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_json(url: str, body: dict[str, Any] | None = None, timeout: float = 5) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


@dataclass
class Rig:
    client: docker.DockerClient
    prefix: str
    network: Network
    emulator: Container
    emulator_url: str
    containers: list[Container] = field(default_factory=list)

    @property
    def emulator_host(self) -> str:
        """The emulator's address as containers on the bench network reach it."""
        return f"http://{self.emulator.name}:{EMULATOR_PORT}"

    def state(self) -> dict[str, Any]:
        return http_json(f"{self.emulator_url}/_emulator/state")

    def worker_env(self, container_id: int, host_port: int, use_ssl: bool) -> dict[str, str]:
        """The environment Vast gives an instance, pointed at the bench's emulator."""
        return {
            "CONTAINER_ID": str(container_id),
            "PUBLIC_IPADDR": "127.0.0.1",
            "VAST_TCP_PORT_3000": str(host_port),
            "REPORT_ADDR": self.emulator_host,
            "NULL_CERT_SIGN_URL": (f"{self.emulator_host}/api/v0/sign_cert/"
                                   f"?instance_id={container_id}"),
            "USE_SSL": "true" if use_ssl else "false",
        }

    def run(self, image: str, container_id: int, use_ssl: bool = False,
            **options: Any) -> tuple[Container, float]:
        """Start a worker container; also the wall clock just before `docker run` began."""
        host_port = free_port()
        env = {**self.worker_env(container_id, host_port, use_ssl), **options.pop("env", {})}
        name = f"{self.prefix}-w{container_id}"
        started = time.time()
        container = self.client.containers.run(
            image, detach=True, name=name, network=self.network.name, environment=env,
            ports={"3000/tcp": ("127.0.0.1", host_port)}, **options)
        self.containers.append(container)
        return container, started

    def wait_loaded(self, container: Container, container_id: int,
                    timeout: float) -> dict[str, Any]:
        """Poll the emulator every 20 ms until it has a loaded /worker_status/ from the worker."""
        deadline = time.monotonic() + timeout
        polls = 0
        while time.monotonic() < deadline:
            record = self.worker(container_id)
            if record is not None and record["loaded_at"] is not None:
                record["observed_at"] = time.time()
                return record
            polls += 1
            if polls % 50 == 0:
                _require_running(container)
            time.sleep(POLL_SECONDS)
        raise BenchError(f"worker {container_id} did not report loaded within {timeout:g} s; "
                         f"its log ends:\n{_tail(container)}")

    def worker(self, container_id: int) -> dict[str, Any] | None:
        return next((w for w in self.state()["workers"] if w["id"] == container_id), None)

    def signed_auth_data(self) -> dict[str, Any]:
        """One auth_data signed by the emulator, asked for the way the SDK's /route/ does."""
        body = {"endpoint": ENDPOINT, "api_key": API_KEY, "cost": 100, "request_idx": 0}
        answer = http_json(f"{self.emulator_url}/route/", body)
        if "signature" not in answer:
            raise BenchError(f"the emulator routed to no worker: {answer}")
        return answer

    def wait_until(self, what: str, check: Callable[[], Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            time.sleep(POLL_SECONDS)
        raise BenchError(f"timed out after {timeout:g} s waiting for {what}")

    def remove(self, container: Container) -> None:
        container.remove(force=True)
        self.containers.remove(container)

    def close(self) -> None:
        for container in [*self.containers, self.emulator]:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
        self.network.remove()


def open_rig(emulator_image: str) -> Rig:
    """A fresh network with the emulator on it, answering on a loopback port."""
    client = engine()
    prefix = f"nwbench-{secrets.token_hex(3)}"
    network = client.networks.create(prefix)
    host_port = free_port()
    try:
        emulator = client.containers.run(
            emulator_image, ["--host", "0.0.0.0", "--port", str(EMULATOR_PORT), "--endpoint",
                             ENDPOINT, "--api-key", API_KEY, "--log-level", "warning"],
            detach=True, name=f"{prefix}-emulator", network=network.name,
            ports={f"{EMULATOR_PORT}/tcp": ("127.0.0.1", host_port)})
    except Exception:
        network.remove()
        raise
    rig = Rig(client, prefix, network, emulator, f"http://127.0.0.1:{host_port}")
    try:
        _wait_answers(rig)
    except Exception:
        rig.close()
        raise
    return rig


def engine() -> docker.DockerClient:
    try:
        client = docker.from_env()
        client.ping()
    except Exception as error:
        raise BenchError(f"no Docker engine answers ({error}): run scripts/ensure-docker.sh "
                         "or `make bench`, which starts one") from None
    return client


def _wait_answers(rig: Rig, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            rig.state()
            return
        except OSError:
            time.sleep(0.1)
    raise BenchError(f"the emulator did not answer within {timeout:g} s:\n{_tail(rig.emulator)}")


def _require_running(container: Container) -> None:
    container.reload()
    if container.status != "running":
        raise BenchError(f"container {container.name} is {container.status}; "
                         f"its log ends:\n{_tail(container)}")


def _tail(container: Container, lines: int = 20) -> str:
    return container.logs(tail=lines).decode(errors="replace")
