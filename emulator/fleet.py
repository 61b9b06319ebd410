"""The workers that report to the emulator, and where the next request goes."""

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .messages import FinishedReport, WorkerStatus

log = logging.getLogger("emulator")

PENDING_ROUTE_TTL = 5.0
HISTORY_LENGTH = 1000


@dataclass
class WorkerRecord:
    status: WorkerStatus
    first_seen_at: float
    last_status_at: float
    loaded_at: float | None = None
    status_reports: int = 1

    @property
    def id(self) -> int:
        return self.status.id


@dataclass(frozen=True)
class PendingRoute:
    """A request routed to a worker whose reports do not show it yet."""

    request_idx: int
    worker_id: int
    cost: float
    at: float


@dataclass(frozen=True)
class RouteDecision:
    request_idx: int
    worker_id: int | None
    url: str | None
    at: float


class Fleet:
    """Worker registry and routing rule of one endpoint.

    A worker takes a request while its implied queue time, (reported load + load routed to it
    but not yet reported) / max_perf, is below max_queue_time: with cost 100 against
    max_perf 100, one held reservation reads 1.0 and fills the worker.
    """

    def __init__(
        self,
        max_queue_time: float = 1.0,
        stale_after: float = 20.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_queue_time = max_queue_time
        self.stale_after = stale_after
        self._clock = clock
        self.workers: dict[int, WorkerRecord] = {}
        self.pending: dict[int, PendingRoute] = {}
        self.finished: deque[dict[str, Any]] = deque(maxlen=HISTORY_LENGTH)
        self.routes: deque[RouteDecision] = deque(maxlen=HISTORY_LENGTH)
        self._last_request_idx = 0
        self._waiting: set[int] = set()

    def report_status(self, status: WorkerStatus) -> None:
        now = self._clock()
        record = self.workers.get(status.id)
        if record is None:
            record = WorkerRecord(status=status, first_seen_at=now, last_status_at=now)
            self.workers[status.id] = record
            log.info("worker %d first seen at %s", status.id, status.url or "(no url)")
            previous = None
        else:
            previous = record.status
            record.status = status
            record.last_status_at = now
            record.status_reports += 1
        _log_changes(previous, status)
        if status.loaded and record.loaded_at is None:
            record.loaded_at = now
        elif not status.loaded:
            record.loaded_at = None

        for idx in status.working_request_idxs:
            pending = self.pending.get(idx)
            if pending is not None and pending.worker_id == status.id:
                del self.pending[idx]

    def report_finished(self, report: FinishedReport) -> None:
        now = self._clock()
        for request in report.requests:
            pending = self.pending.get(request.request_idx)
            if pending is not None and pending.worker_id == report.worker_id:
                del self.pending[request.request_idx]
            self.finished.append(
                {
                    "worker_id": report.worker_id,
                    "request_idx": request.request_idx,
                    "status": request.status,
                    "success": request.success,
                    "entered_queue_at": request.entered_queue_at,
                    "work_started_at": request.work_started_at,
                    "work_completed_at": request.work_completed_at,
                    "received_at": now,
                }
            )
            log.info(
                "worker %d finished request %d (%s)",
                report.worker_id,
                request.request_idx,
                request.status or "no status",
            )

    def route(self, request_idx: int, cost: float) -> RouteDecision:
        """Pick a worker for a request; request_idx 0 gets a new index."""
        now = self._clock()
        self._expire_pending(now)
        if request_idx == 0:
            self._last_request_idx += 1
            request_idx = self._last_request_idx
        else:
            self._last_request_idx = max(self._last_request_idx, request_idx)
            self.pending.pop(request_idx, None)

        candidates = [record for record in self.workers.values() if self._takes_work(record, now)]
        if not candidates:
            if request_idx not in self._waiting:
                self._waiting.add(request_idx)
                self.routes.append(RouteDecision(request_idx, None, None, now))
                log.info(
                    "request %d waiting: no free worker (a real autoscaler would start one)",
                    request_idx,
                )
            return RouteDecision(request_idx, None, None, now)

        chosen = min(candidates, key=lambda record: (self.queue_time(record.id), record.id))
        self._waiting.discard(request_idx)
        self.pending[request_idx] = PendingRoute(request_idx, chosen.id, cost, now)
        decision = RouteDecision(request_idx, chosen.id, chosen.status.url, now)
        self.routes.append(decision)
        log.info("request %d routed to worker %d", request_idx, chosen.id)
        return decision

    def queue_time(self, worker_id: int) -> float:
        """Seconds of work the worker holds, counting requests routed but not yet reported."""
        status = self.workers[worker_id].status
        if status.max_perf <= 0:
            return float("inf")
        routed = sum(p.cost for p in self.pending.values() if p.worker_id == worker_id)
        return (status.cur_load + routed) / status.max_perf

    def is_fresh(self, record: WorkerRecord, now: float | None = None) -> bool:
        now = self._clock() if now is None else now
        return now - record.last_status_at <= self.stale_after

    def snapshot(self) -> dict[str, Any]:
        now = self._clock()
        self._expire_pending(now)
        return {
            "workers": [self._describe(record, now) for record in self.workers.values()],
            "pending_routes": [
                {"request_idx": p.request_idx, "worker_id": p.worker_id, "cost": p.cost, "at": p.at}
                for p in self.pending.values()
            ],
            "finished_requests": list(self.finished),
            "routes": [
                {"request_idx": r.request_idx, "worker_id": r.worker_id, "at": r.at}
                for r in self.routes
            ],
        }

    def _takes_work(self, record: WorkerRecord, now: float) -> bool:
        status = record.status
        return (
            self.is_fresh(record, now)
            and status.loaded
            and not status.errored
            and bool(status.url)
            and self.queue_time(record.id) < self.max_queue_time
        )

    def _expire_pending(self, now: float) -> None:
        expired = [idx for idx, p in self.pending.items() if now - p.at > PENDING_ROUTE_TTL]
        for idx in expired:
            del self.pending[idx]

    def _describe(self, record: WorkerRecord, now: float) -> dict[str, Any]:
        status = record.status
        return {
            "id": status.id,
            "url": status.url,
            "loaded": status.loaded,
            "errored": status.errored,
            "error_msg": status.error_msg,
            "fresh": self.is_fresh(record, now),
            "max_perf": status.max_perf,
            "cur_load": status.cur_load,
            "queue_time": self.queue_time(record.id) if status.max_perf > 0 else None,
            "working_request_idxs": list(status.working_request_idxs),
            "first_seen_at": record.first_seen_at,
            "loaded_at": record.loaded_at,
            "last_status_at": record.last_status_at,
            "status_reports": record.status_reports,
        }


def _log_changes(previous: WorkerStatus | None, status: WorkerStatus) -> None:
    was_loaded = previous is not None and previous.loaded
    if status.loaded and not was_loaded:
        log.info("worker %d ready: max_perf %g at %s", status.id, status.max_perf, status.url)
    elif was_loaded and not status.loaded:
        log.info("worker %d restarted: loading again", status.id)
    if previous is not None and previous.url != status.url:
        log.info("worker %d now at %s", status.id, status.url)
    previous_load = previous.cur_load if previous is not None else 0.0
    if status.cur_load != previous_load:
        log.info("worker %d load %g/%g", status.id, status.cur_load, status.max_perf)
    previous_error = previous.error_msg if previous is not None else ""
    if status.error_msg != previous_error:
        if status.error_msg:
            log.info("worker %d errored: %s", status.id, " ".join(status.error_msg.split()))
        else:
            log.info("worker %d error cleared", status.id)
