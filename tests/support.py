"""Helpers shared by the process-level and image-level tests."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ENDPOINT = "null-demo"
API_KEY = "emulator-key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_json(url: str, method: str = "GET", timeout: float = 5) -> tuple[int, Any]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_until(what: str, check: Callable[[], Any], timeout: float = 30,
               interval: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as error:  # the thing polled may not be up yet
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                         + (f" (last error: {last_error})" if last_error else ""))


async def reserve_hold_close(emulator_url: str, worker_url: str) -> None:
    """One reservation through the real SDK: it lands on `worker_url`, is held, and the
    client's close ends it."""
    from worker.client import is_held, make_client, release

    async with make_client("local", API_KEY, emulator_url) as client:
        endpoint = await client.get_endpoint(ENDPOINT)
        session = await endpoint.session(cost=100, lifetime=60, timeout=30)
        assert session.url == worker_url
        assert await is_held(session)
        assert await release(client, session) == "client"


class EmulatorView:
    """Reads the emulator's /_emulator/state, as an operator would."""

    def __init__(self, url: str) -> None:
        self.url = url

    def state(self) -> dict[str, Any]:
        status, body = http_json(f"{self.url}/_emulator/state")
        assert status == 200, body
        return body

    def worker(self, worker_id: int) -> dict[str, Any] | None:
        return next((w for w in self.state()["workers"] if w["id"] == worker_id), None)

    def worker_free(self, worker_id: int) -> bool:
        worker = self.worker(worker_id)
        return bool(worker and worker["loaded"] and not worker["errored"]
                    and worker["cur_load"] == 0)

    def finished(self, worker_id: int) -> list[dict[str, Any]]:
        return [r for r in self.state()["finished_requests"] if r["worker_id"] == worker_id]
