"""What users expect of an image: --help, --version, HEALTHCHECK, /etc/environment,
extending it with FROM, and bases other than the default (no python3, Python 3.12+)."""

from __future__ import annotations

import json

import docker
import pytest

from tests.image.fleet import IMAGE, Fleet, build
from tests.support import API_KEY, ENDPOINT, reserve_hold_close, wait_until
from worker.client import is_held, make_client

# Debian trixie with no python3 at all: like NVIDIA's CUDA runtime images it leaves
# python3 to the Dockerfile, and its python3 is 3.13, which has no distutils.
BARE_BASE = "null-worker-base:trixie-bare"


def run_image(*args: str) -> str:
    client = docker.from_env()
    return client.containers.run(IMAGE, list(args), remove=True).decode()


def test_help_prints_the_environment_table(images) -> None:
    text = run_image("--help")
    for name in ("CONSUMER_CMD", "CONSUMER_STOP_SECONDS", "BACKEND_HEALTH_URL",
                 "NULL_CONTROL_PORT", "USE_SSL", "CONTAINER_ID", "POST /release"):
        assert name in text


def test_version_names_the_pinned_framework(images) -> None:
    assert run_image("--version").strip() == "null-worker 0.1.0 (vastai 1.9.1)"


def test_the_lean_venv_has_everything_the_worker_and_client_import(images) -> None:
    # vastai is installed without its declared dependencies (requirements/worker.txt).
    code = ("import worker.app, worker.client, worker.supervision, supervisor.supervisord; "
            "print('imports ok')")
    assert run_image("/opt/null-worker/bin/python", "-c", code).strip() == "imports ok"


def test_unknown_options_are_refused_with_a_hint(images) -> None:
    client = docker.from_env()
    container = client.containers.run(IMAGE, ["-x"], detach=True)
    try:
        assert container.wait(timeout=30)["StatusCode"] != 0
        assert "unknown option -x: use --help" in container.logs().decode()
    finally:
        container.remove(force=True)


def test_other_commands_run_instead_of_the_worker(images) -> None:
    assert run_image("null-worker", "--version").startswith("null-worker 0.1.0")
    assert run_image("sh", "-c", "echo $((6 * 7))").strip() == "42"


def test_healthcheck_turns_healthy_and_logins_see_the_environment(fleet: Fleet) -> None:
    worker = fleet.start_worker(CONSUMER_CMD="sleep 600", QUEUE_URL="redis://queue:6379/0")
    wrapped = worker.container.get_wrapped_container()

    def health() -> str:
        wrapped.reload()
        return wrapped.attrs["State"]["Health"]["Status"]

    wait_until("docker to report the container healthy", lambda: health() == "healthy",
               timeout=60, interval=1)
    code, environment = worker.exec("cat", "/etc/environment")
    assert code == 0
    assert f'CONTAINER_ID="{worker.container_id}"' in environment.splitlines()
    assert 'QUEUE_URL="redis://queue:6379/0"' in environment.splitlines()
    assert 'CONSUMER_CMD="sleep 600"' in environment.splitlines()


async def test_extending_with_from_a_node_consumer(fleet: Fleet) -> None:
    image = build("null-worker-node-example:dev", "consumer-example/node/Dockerfile",
                  IMAGE=fleet.image)
    worker = fleet.start_worker(image=image, WORK_SECONDS="1")
    async with make_client("local", API_KEY, fleet.emulator.url) as client:
        endpoint = await client.get_endpoint(ENDPOINT)
        session = await endpoint.session(cost=100, lifetime=60, timeout=30)
        wait_until("the node consumer to release",
                   lambda: f"node consumer: released {session.session_id}" in worker.logs(),
                   timeout=20)
        assert not await is_held(session)


@pytest.fixture(scope="module")
def bare_base_image(images) -> str:
    try:
        docker.from_env().images.get(BARE_BASE)
    except docker.errors.ImageNotFound:
        raise RuntimeError(f"{BARE_BASE} is missing: run `make base-image` (it makes it with "
                           "DEBIAN_SUITE=trixie BASE_PACKAGES=ca-certificates)") from None
    return build("null-worker:trixie-test", BASE_IMAGE=BARE_BASE)


async def test_base_without_python_and_with_python_3_13(fleet: Fleet, bare_base_image) -> None:
    worker = fleet.start_worker(image=bare_base_image, USE_SSL="true")
    code, version = worker.exec("/opt/null-worker/bin/python", "-c",
                                "import json, sys; print(json.dumps(sys.version_info[:2]))")
    assert code == 0
    assert tuple(json.loads(version)) >= (3, 12)
    await reserve_hold_close(fleet.emulator.url, worker.url)
