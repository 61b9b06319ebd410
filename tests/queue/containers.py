"""Containers of the image-level queue tests: the consumer image and a Redis container, on the
Docker network the image rig creates for each test."""

from __future__ import annotations

import redis
from testcontainers.core.container import DockerContainer
from testcontainers.core.image import DockerImage

from tests.image.fleet import BASE_IMAGE, IMAGE, Fleet, WorkerContainer, publish_on_loopback
from tests.queue.rig import CONSUMER_SRC, RedisServer
from tests.support import REPO, free_port, wait_until

CONSUMER_IMAGE = "null-worker-consumer:dev"
REDIS_IMAGE = "null-worker-test-redis:dev"
REDIS_ALIAS = "redis"
SUPERVISORCTL = "/opt/null-worker/bin/supervisorctl -c /opt/null-worker/etc/supervisord.conf"


def build_consumer_image() -> str:
    """consumer-example/Dockerfile, built as a user would: FROM the null-worker image."""
    DockerImage(path=str(CONSUMER_SRC), tag=CONSUMER_IMAGE, clean_up=False,
                buildargs={"IMAGE": IMAGE}).build()
    return CONSUMER_IMAGE


def build_redis_image() -> str:
    DockerImage(path=str(REPO / "tests" / "queue"), tag=REDIS_IMAGE, clean_up=False,
                dockerfile_path="redis.Dockerfile", buildargs={"BASE_IMAGE": BASE_IMAGE}).build()
    return REDIS_IMAGE


class RedisContainer(RedisServer):
    """Redis on the test's network as redis:6379, and on 127.0.0.1 for the test itself."""

    container: DockerContainer

    @classmethod
    def start(cls, fleet: Fleet, image: str) -> RedisContainer:
        host_port = free_port()
        container = DockerContainer(image).with_network(fleet.network)
        container.with_network_aliases(REDIS_ALIAS)
        publish_on_loopback(container, 6379, host_port)
        container.start()
        url = f"redis://127.0.0.1:{host_port}/0"
        server = cls(None, url, redis.Redis.from_url(url, decode_responses=True))
        server.container = container
        try:
            wait_until("the Redis container to answer", server.client.ping, timeout=30)
        except AssertionError:
            server.stop()
            raise
        return server

    @property
    def url_inside(self) -> str:
        return f"redis://{REDIS_ALIAS}:6379/0"

    def stop(self) -> None:
        super().stop()
        self.container.stop()


def consumer_pid(worker: WorkerContainer) -> int:
    """The consumer itself: the child of supervisord's run-consumer program."""
    code, output = worker.exec("sh", "-c", f"{SUPERVISORCTL} pid consumer")
    assert code == 0 and output.strip().isdigit(), output
    runner = int(output)
    code, output = worker.exec("cat", f"/proc/{runner}/task/{runner}/children")
    assert code == 0 and output.split(), output
    return int(output.split()[0])


def kill_consumer(worker: WorkerContainer, pid: int) -> None:
    """SIGKILL the consumer inside a worker container; supervisord starts a new one."""
    code, output = worker.exec("sh", "-c", f"kill -KILL {pid}")  # no procps: the builtin
    assert code == 0, output


def docker_kill(worker: WorkerContainer) -> None:
    worker.container.get_wrapped_container().kill()
