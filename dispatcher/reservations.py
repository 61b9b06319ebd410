"""The reservations one dispatcher holds, and those it is still waiting for.

Each reservation is made by its own task with the SDK's `endpoint.session(...)`, which may wait
for a worker to start. Once held, a reservation ends in one of three ways: the consumer
releases it after its job (the usual way), it expires, or the dispatcher closes it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from dataclasses import dataclass

from vastai.serverless.client.client import CoroutineServerless
from vastai.serverless.client.endpoint import Endpoint
from vastai.serverless.client.session import Session

from worker.client import is_held, release

log = logging.getLogger("dispatcher")

COST = 100
CHECK_TIMEOUT_SECONDS = 5.0
LOST_AFTER_FAILURES = 3


@dataclass
class Held:
    session: Session
    since: float
    failures: int = 0


class Reservations:
    def __init__(self, client: CoroutineServerless, endpoint: Endpoint, lifetime: float) -> None:
        self.client = client
        self.endpoint = endpoint
        self.lifetime = lifetime
        self.held: dict[str, Held] = {}
        self.reserving: list[asyncio.Task[Session]] = []
        self.counts: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self.held) + len(self.reserving)

    def reserve(self, count: int) -> None:
        for _ in range(count):
            task = asyncio.ensure_future(
                self.endpoint.session(cost=COST, lifetime=self.lifetime))
            task.add_done_callback(self._made)
            self.reserving.append(task)

    def _made(self, task: asyncio.Task[Session]) -> None:
        if task in self.reserving:
            self.reserving.remove(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.counts["failed"] += 1
            log.warning("reservation failed: %s", " ".join(str(error).split()))
            return
        session = task.result()
        self.held[session.session_id] = Held(session, time.monotonic())
        self.counts["reserved"] += 1
        log.info("reserved: session %s on %s", session.session_id, session.url)

    async def check(self) -> int:
        """Drop the reservations that ended on the worker; how many did."""
        held = list(self.held.values())
        results = await asyncio.gather(
            *(asyncio.wait_for(is_held(h.session), CHECK_TIMEOUT_SECONDS) for h in held),
            return_exceptions=True)
        ended = 0
        for entry, result in zip(held, results, strict=True):
            if result is True:
                entry.failures = 0
            elif result is False:
                ended += 1
                self._forget(entry, self._ended_how(entry))
            else:
                entry.failures += 1
                if entry.failures >= LOST_AFTER_FAILURES:
                    ended += 1
                    self.counts["lost"] += 1
                    self._forget(entry, f"lost (worker unreachable: {_short(result)})")
        return ended

    def cancel_reserving(self, count: int) -> int:
        """Stop waiting for the newest `count` reservations not yet made."""
        cancelled = self.reserving[-count:] if count > 0 else []
        for task in cancelled:
            task.cancel()
        # A reservation cancelled just as the worker made it is never seen here; its
        # consumer finds no job for it and releases it after its idle grace.
        return len(cancelled)

    async def close_newest(self, count: int, why: str) -> None:
        newest = list(self.held.values())[-count:] if count > 0 else []
        await asyncio.gather(*(self._close(entry, why) for entry in newest))

    async def close_all(self, why: str) -> None:
        for task in list(self.reserving):
            task.cancel()
        await asyncio.gather(*self.reserving, return_exceptions=True)
        await asyncio.gather(*(self._close(entry, why) for entry in list(self.held.values())))

    async def _close(self, entry: Held, why: str) -> None:
        try:
            who = await release(self.client, entry.session)
        except Exception as error:
            self.counts["lost"] += 1
            self._forget(entry, f"lost (closing failed: {_short(error)}; it ends when it expires)")
            return
        if who == "consumer":
            self._forget(entry, self._ended_how(entry))
        else:
            self.counts["closed"] += 1
            self._forget(entry, f"closed ({why})")

    def _ended_how(self, entry: Held) -> str:
        if time.monotonic() - entry.since >= self.lifetime:
            self.counts["expired"] += 1
            return "expired"
        self.counts["released"] += 1
        return "released by the consumer"

    def _forget(self, entry: Held, event: str) -> None:
        if self.held.pop(entry.session.session_id, None) is not None:
            log.info("%s: session %s after %.1fs", event, entry.session.session_id,
                     time.monotonic() - entry.since)


def _short(error: BaseException) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__
