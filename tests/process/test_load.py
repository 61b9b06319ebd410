"""2,000 reserve/release cycles with 50 contenders against one supervised worker."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections import Counter
from pathlib import Path

import aiohttp

from tests.support import API_KEY, ENDPOINT

CYCLES = 2000
CONTENDERS = 50


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))


async def signed_auth(http: aiohttp.ClientSession, emulator_url: str) -> dict:
    """One auth_data from the emulator's /route/; its signature covers only the URL, so
    contenders reuse it with request numbers of their own."""
    body = {"endpoint": ENDPOINT, "api_key": API_KEY, "cost": 100, "request_idx": 0}
    async with http.post(f"{emulator_url}/route/", json=body) as response:
        auth = await response.json()
    assert "url" in auth, auth
    return auth


async def contend(http: aiohttp.ClientSession, worker_url: str, control_url: str,
                  auth: dict, numbers: itertools.count, done: list[str],
                  statuses: Counter) -> None:
    while len(done) < CYCLES:
        number = next(numbers)
        body = {"auth_data": {**auth, "reqnum": number, "request_idx": number},
                "payload": {"lifetime": 60}}
        async with http.post(f"{worker_url}/session/create", json=body) as response:
            statuses[response.status] += 1
            if response.status != 201:
                await asyncio.sleep(0.2)  # as a client backs off before routing again
                continue
            session_id = (await response.json())["session_id"]
        async with http.post(f"{control_url}/release") as response:
            statuses[f"release {response.status}"] += 1
            assert (await response.json())["released"] == session_id
        done.append(session_id)


async def test_contended_reservations_never_overlap_and_leak_nothing(supervised,
                                                                       emulator) -> None:
    rig = supervised()
    worker_url = f"http://127.0.0.1:{rig.worker_port}"
    worker_pid = rig.pid_of("worker")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as http:
        auth = await signed_auth(http, emulator.url)
        numbers = itertools.count(10_000)
        done: list[str] = []
        statuses: Counter = Counter()
        warmup = rss_kib(worker_pid)
        started = time.monotonic()
        await asyncio.gather(*(contend(http, worker_url, rig.control_url, auth, numbers, done,
                                       statuses) for _ in range(CONTENDERS)))
        elapsed = time.monotonic() - started
        after = rss_kib(worker_pid)
        async with http.get(f"{rig.control_url}/session") as response:
            assert response.status == 404

    print(f"\n{len(done)} cycles in {elapsed:.1f} s ({len(done) / elapsed:.0f}/s) with "
          f"{CONTENDERS} contenders; statuses {dict(statuses)}; worker RSS "
          f"{warmup / 1024:.1f} -> {after / 1024:.1f} MiB")
    assert len(done) >= CYCLES
    assert not [s for s in statuses if isinstance(s, int) and s >= 500]
    assert set(statuses) <= {201, 429, "release 200"}
    assert after - warmup < 8 * 1024, "worker memory grew by more than 8 MiB"

    events = re.findall(r"(reserved|released): session (\w+)", rig.logs())
    assert len(events) == 2 * len(done)
    for (first, held), (second, freed) in zip(events[::2], events[1::2], strict=True):
        assert (first, second) == ("reserved", "released")
        assert held == freed, "a reservation was made while another was held"
