"""The worker's one reservation: who holds it, waiting for it, and releasing it."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from vastai.serverless.server.lib.data_types import Session

from worker.framework import Hooks

log = logging.getLogger("null_worker")
RELEASE_WAIT_SECONDS = 0.5


class ReservationMismatch(Exception):
    def __init__(self, expected: str, held: str) -> None:
        super().__init__(f"session {expected} is not the reservation held now ({held} is): "
                         "it ended, and this worker was reserved again since")
        self.held = held


@dataclass(frozen=True)
class Reservation:
    id: str
    created: float
    expires: float
    lifetime: float

    @classmethod
    def of(cls, session: Session) -> Reservation:
        return cls(id=session.session_id, created=session.created_at,
                   expires=session.expiration, lifetime=session.lifetime)

    def as_json(self) -> dict[str, float | str]:
        return {"id": self.id, "created": self.created, "expires": self.expires,
                "lifetime": self.lifetime, "remaining": max(0.0, self.expires - time.time())}


class Reservations:
    """Tracks the framework's sessions as reservations and logs each change once."""

    def __init__(self, hooks: Hooks, max_lifetime: float) -> None:
        self._hooks = hooks
        self._max_lifetime = max_lifetime
        self._closing: set[asyncio.Future[bool]] = set()
        self._changed = asyncio.Event()
        hooks.on_reserved.append(self._reserved)
        hooks.on_closed.append(self._closed)

    def current(self) -> Reservation | None:
        """The reservation held, if any; one past its expiry counts as gone even before the
        framework's collector, which runs every 5 s, ends it."""
        now = time.time()
        session = next((s for s in self._hooks.sessions.values() if s.expiration > now), None)
        return None if session is None else Reservation.of(session)

    async def wait(self, timeout: float) -> Reservation | None:
        """The current reservation, waiting up to `timeout` seconds for one to be made."""
        deadline = time.monotonic() + timeout
        while (held := self.current()) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                return None
        return held

    async def release(self, expected: str | None = None) -> str | None:
        """End the current reservation; the id released, or None when none was held.

        With `expected`, only that reservation is ended: ReservationMismatch if another is
        held, so a consumer never releases a reservation made after its own expired.
        """
        held = self.current()
        if held is None:
            return None
        if expected is not None and held.id != expected:
            raise ReservationMismatch(expected, held.id)
        # The framework awaits a client's on_close_route (up to 10 s) before it updates its
        # metrics; the consumer need not wait for that once the session is gone.
        closing = asyncio.ensure_future(self._hooks.close(held.id, "consumer"))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)
        await asyncio.wait({closing}, timeout=RELEASE_WAIT_SECONDS)
        if closing.done():
            return held.id if closing.result() else None
        return None if held.id in self._hooks.sessions else held.id

    async def release_for_stop(self) -> None:
        """End what is held when the worker stops, so the autoscaler hears of it."""
        held = self.current()
        if held is not None:
            await self._hooks.close(held.id, "stopping")
            await self._hooks.flush_reports()

    def extend(self, seconds: float) -> Reservation | None:
        """Keep the current reservation for `seconds` more from now (a long job's keep-alive)."""
        held = self.current()
        if held is None:
            return None
        seconds = min(seconds, self._max_lifetime)
        session = self._hooks.extend(held.id, time.time() + seconds)
        if session is None:
            return None
        log.info("extended: session %s for %.0f s more", held.id, seconds)
        return Reservation.of(session)

    def _reserved(self, session: Session) -> None:
        log.info("reserved: session %s for %.0f s (request %s)", session.session_id,
                 session.lifetime, session.request_idx)
        self._changed.set()
        self._hooks.report_now()

    def _closed(self, session: Session, how: str) -> None:
        held_for = time.time() - session.created_at
        if how == "expired":
            log.warning("expired: session %s after %.1f s; the consumer did not release it "
                        "in time (raise the reservation's lifetime)", session.session_id, held_for)
        else:
            who = {"consumer": "the consumer", "stopping": "the worker, which is stopping"}.get(
                how, "the client")
            log.info("released: session %s by %s after %.1f s", session.session_id, who, held_for)
        self._changed.set()
        self._hooks.report_now()
