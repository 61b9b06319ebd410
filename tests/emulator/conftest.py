from collections.abc import Awaitable, Callable, Iterator

import pytest
from aiohttp.test_utils import TestClient
from emulator_process import EmulatorProcess

from emulator.app import make_app
from emulator.config import EmulatorConfig

ClientFactory = Callable[..., Awaitable[TestClient]]


@pytest.fixture
async def emulator_client(aiohttp_client: ClientFactory) -> TestClient:
    return await aiohttp_client(make_app(EmulatorConfig()))


@pytest.fixture
def start_emulator() -> Iterator[Callable[..., EmulatorProcess]]:
    """Start `python -m emulator` with extra arguments; every one started is stopped after."""
    started: list[EmulatorProcess] = []

    def start(*args: str) -> EmulatorProcess:
        started.append(EmulatorProcess(*args))
        return started[-1]

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator_process(start_emulator: Callable[..., EmulatorProcess]) -> EmulatorProcess:
    return start_emulator()
