"""Reserve/release load driver, run inside a worker container by the image's own python:

    /opt/null-worker/bin/python driver.py '{"auth_data": {...}, "cycles": 1000, ...}'

A cycle is POST /session/create on the worker port, then POST /release on the control
server, which listens on the container's loopback only. The autoscaler's signature covers
only the worker's URL, and the worker refuses an auth_data that already made a reservation,
so each cycle sends the one signed auth_data with a new reqnum and request_idx. Prints one
JSON object: every cycle's seconds, the wall time of the fast run, and for the paced cycles
the wall clock at each /release.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aiohttp

WORKER = "http://127.0.0.1:3000"
CONTROL = "http://127.0.0.1:18999"


class Driver:
    def __init__(self, http: aiohttp.ClientSession, auth: dict[str, Any], first: int) -> None:
        self.http = http
        self.auth = auth
        self.next_reqnum = first

    async def reserve(self) -> int:
        reqnum = self.next_reqnum
        self.next_reqnum += 1
        body = {"auth_data": {**self.auth, "reqnum": reqnum, "request_idx": reqnum},
                "payload": {"lifetime": 60}}
        async with self.http.post(f"{WORKER}/session/create", json=body) as response:
            if response.status != 201:
                raise RuntimeError(f"/session/create answered {response.status}: "
                                   f"{await response.text()}")
            await response.read()
        return reqnum

    async def release(self) -> None:
        async with self.http.post(f"{CONTROL}/release") as response:
            answer = await response.json()
            if response.status != 200 or not answer.get("released"):
                raise RuntimeError(f"/release answered {response.status}: {answer}")


async def fast_cycles(driver: Driver, count: int) -> tuple[list[float], float]:
    seconds = []
    began = time.perf_counter()
    for _ in range(count):
        start = time.perf_counter()
        await driver.reserve()
        await driver.release()
        seconds.append(time.perf_counter() - start)
    return seconds, time.perf_counter() - began


async def paced_cycles(driver: Driver, count: int, pause: float) -> list[dict[str, float]]:
    """Reserve, hold briefly, release; the pause lets each release reach the autoscaler alone."""
    releases = []
    for _ in range(count):
        request_idx = await driver.reserve()
        await asyncio.sleep(pause / 4)
        released_at = time.time()
        await driver.release()
        releases.append({"request_idx": request_idx, "released_at": released_at})
        await asyncio.sleep(pause)
    return releases


async def main(plan: dict[str, Any]) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        driver = Driver(http, plan["auth_data"], plan["first_reqnum"])
        for _ in range(plan["warmup"]):
            await driver.reserve()
            await driver.release()
        seconds, wall = await fast_cycles(driver, plan["cycles"])
        releases = await paced_cycles(driver, plan["paced"], plan["pause"])
    return {"cycle_seconds": seconds, "wall_seconds": wall, "releases": releases}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))))
