"""Queue tests: a real redis-server, the consumer example, the dispatcher, the emulator."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.image import conftest as image_rig
from tests.image.fleet import Fleet
from tests.process import conftest as process_rig
from tests.queue.containers import RedisContainer, build_consumer_image, build_redis_image
from tests.queue.rig import CONSUMER_SRC, RedisServer, start_redis_server

# The process and image rigs' fixtures, reused as they are.
emulator = process_rig.emulator
supervised = process_rig.supervised
images = image_rig.images
fleet = image_rig.fleet

# The consumer example is a package a user copies, not part of this repository's packages.
sys.path.insert(0, str(CONSUMER_SRC))


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = start_redis_server(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def consumer_image(images: tuple[str, str]) -> str:
    return build_consumer_image()


@pytest.fixture(scope="session")
def redis_image(images: tuple[str, str]) -> str:
    return build_redis_image()


@pytest.fixture
def redis_container(fleet: Fleet, redis_image: str) -> Iterator[RedisContainer]:
    server = RedisContainer.start(fleet, redis_image)
    try:
        yield server
    finally:
        server.stop()
