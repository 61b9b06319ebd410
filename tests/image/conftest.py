from collections.abc import Iterator

import pytest

from tests.image.fleet import (
    EMULATOR_IMAGE,
    IMAGE,
    Fleet,
    build,
    require_engine,
    start_fleet,
)


@pytest.fixture(scope="session")
def images() -> tuple[str, str]:
    """Build the worker and emulator images once per run; Docker's cache makes reruns cheap."""
    require_engine()
    return build(IMAGE), build(EMULATOR_IMAGE, dockerfile="emulator/Dockerfile")


@pytest.fixture
def fleet(images: tuple[str, str]) -> Iterator[Fleet]:
    started = start_fleet(*images)
    try:
        yield started
    finally:
        started.stop()
