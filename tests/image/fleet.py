"""Containers of the image-level tests: an emulator and null-worker containers on a Docker
network the test creates, every port published on 127.0.0.1 only."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import docker
from testcontainers.core.container import DockerContainer
from testcontainers.core.image import DockerImage
from testcontainers.core.network import Network

from tests.support import REPO, EmulatorView, free_port, wait_until

BASE_IMAGE = os.environ.get("BASE_IMAGE", "null-worker-base:bookworm")
IMAGE = os.environ.get("IMAGE", "null-worker:dev")
EMULATOR_IMAGE = os.environ.get("EMULATOR_IMAGE", "null-worker-emulator:dev")


def require_engine() -> docker.DockerClient:
    """The Docker engine, or a failure that says how to get one; image tests never skip."""
    try:
        client = docker.from_env()
        client.ping()
    except Exception as error:
        raise RuntimeError(f"no Docker engine answers ({error}): run scripts/ensure-docker.sh "
                           "or `make test`, which starts one") from None
    try:
        client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        if BASE_IMAGE == "null-worker-base:bookworm":
            raise RuntimeError(f"base image {BASE_IMAGE} is missing: run "
                               "scripts/build-base-image.sh or `make test`") from None
    return client


def build(tag: str, dockerfile: str = "Dockerfile", **buildargs: str) -> str:
    """Build (or reuse from Docker's layer cache) one of this repository's images."""
    DockerImage(path=str(REPO), tag=tag, dockerfile_path=dockerfile, clean_up=False,
                buildargs={"BASE_IMAGE": BASE_IMAGE, **buildargs}).build()
    return tag


def publish_on_loopback(container: DockerContainer, port: int, host_port: int) -> None:
    # testcontainers binds published ports on every interface; tests reach only 127.0.0.1.
    container.ports[f"{port}/tcp"] = ("127.0.0.1", host_port)


@dataclass
class WorkerContainer:
    container: DockerContainer
    container_id: int
    host_port: int

    @property
    def name(self) -> str:
        return self.container.get_wrapped_container().name

    @property
    def url(self) -> str:
        scheme = "https" if self.env.get("USE_SSL", "true") == "true" else "http"
        return f"{scheme}://127.0.0.1:{self.host_port}"

    @property
    def env(self) -> dict[str, str]:
        return self.container.env

    def logs(self) -> str:
        wrapped = self.container.get_wrapped_container()
        return wrapped.logs().decode(errors="replace")

    def exec(self, *command: str) -> tuple[int, str]:
        result = self.container.get_wrapped_container().exec_run(list(command))
        return result.exit_code, result.output.decode(errors="replace")

    def status(self) -> str:
        wrapped = self.container.get_wrapped_container()
        wrapped.reload()
        return wrapped.status


@dataclass
class Fleet:
    """One test's Docker network, its emulator, and the worker containers started on it."""

    network: Network
    emulator: EmulatorView
    emulator_container: DockerContainer
    image: str
    workers: list[WorkerContainer] = field(default_factory=list)

    def start_worker(self, image: str | None = None, wait_ready: bool = True,
                     **env: str) -> WorkerContainer:
        container_id = 200 + len(self.workers)
        host_port = free_port()
        settings = {
            "CONTAINER_ID": str(container_id),
            "PUBLIC_IPADDR": "127.0.0.1",
            "VAST_TCP_PORT_3000": str(host_port),
            "REPORT_ADDR": "http://emulator:8080",
            "NULL_CERT_SIGN_URL": f"http://emulator:8080/api/v0/sign_cert/?instance_id={container_id}",
            "USE_SSL": "false",
            "CONSUMER_STOP_SECONDS": "10",
            **env,
        }
        container = DockerContainer(image or self.image).with_network(self.network)
        container.with_network_aliases(f"worker{container_id}")
        for name, value in settings.items():
            container.with_env(name, value)
        publish_on_loopback(container, 3000, host_port)
        worker = WorkerContainer(container, container_id, host_port)
        self.workers.append(worker)
        container.start()
        if wait_ready:
            self.wait_ready(worker)
        return worker

    def wait_ready(self, worker: WorkerContainer, timeout: float = 60) -> None:
        try:
            wait_until(f"worker {worker.container_id} to report ready",
                       lambda: self.emulator.worker_free(worker.container_id)
                       or worker.status() == "exited", timeout=timeout)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{worker.logs()}") from None
        assert worker.status() == "running", worker.logs()

    def run_once(self, *command: str, image: str | None = None,
                 env: dict[str, str] | None = None) -> tuple[int, str]:
        """Run a throwaway container on this network (the image's entrypoint execs it)."""
        client = docker.from_env()
        container = client.containers.run(image or self.image, list(command), detach=True,
                                          network=self.network.name, environment=env or {})
        try:
            code = container.wait(timeout=60)["StatusCode"]
            return code, container.logs().decode(errors="replace")
        finally:
            container.remove(force=True)

    def stop(self) -> None:
        for worker in self.workers:
            worker.container.stop()
        self.emulator_container.stop()
        self.network.remove()


def start_fleet(image: str, emulator_image: str) -> Fleet:
    network = Network().create()
    host_port = free_port()
    emulator = (DockerContainer(emulator_image)
                .with_network(network).with_network_aliases("emulator")
                .with_command(["--host", "0.0.0.0", "--port", "8080", "--endpoint", "null-demo",
                               "--api-key", "emulator-key"]))
    publish_on_loopback(emulator, 8080, host_port)
    emulator.start()
    view = EmulatorView(f"http://127.0.0.1:{host_port}")
    wait_until("the emulator to answer", view.state, timeout=30)
    return Fleet(network, view, emulator, image)
