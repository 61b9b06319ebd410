"""The one place where null-worker reaches into vastai's serverless framework.

Everything here depends on private details of vastai 1.9.1 (name-mangled methods, the
benchmark file, the metrics object). `tests/unit/test_framework_contract.py` fails if a new
version of vastai moves any of them; check this module first after an upgrade.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from vastai.serverless.server.lib import backend as backend_module
from vastai.serverless.server.lib.backend import BENCHMARK_INDICATOR_FILE, Backend
from vastai.serverless.server.lib.data_types import AuthData, Session
from vastai.serverless.server.worker import BenchmarkConfig, HandlerConfig, Worker, WorkerConfig

from worker.config import Settings
from worker.guard import CreateRules, check_session_ref, guarded, not_here

MAX_PERF = 100.0
VERIFIED_PAIRS = 64


def pin_benchmark(max_perf: float = MAX_PERF) -> str:
    """Make the framework read max_perf from its benchmark file instead of benchmarking.

    It reads the file from the working directory, so the worker moves into a private one.
    """
    state_dir = tempfile.mkdtemp(prefix="null-worker-")
    os.chdir(state_dir)
    with open(BENCHMARK_INDICATOR_FILE, "w") as marker:
        marker.write(str(max_perf))
    return state_dir


@asynccontextmanager
async def _ready_at_once() -> Any:
    yield


def build_worker(settings: Settings) -> Worker:
    """A framework Worker with one benchmark route, one reservation at most, no 10 s wait."""
    return Worker(WorkerConfig(
        model_server_url="http://127.0.0.1",
        model_server_port=settings.control_port,
        handlers=[HandlerConfig(
            route="/ping",
            allow_parallel_requests=True,
            benchmark_config=BenchmarkConfig(dataset=[{}], runs=1, concurrency=1),
        )],
        model_healthcheck_url=settings.health_url or f"{settings.control_url}/health",
        max_sessions=1,
        lifecycle=_ready_at_once(),
    ))


class Hooks:
    """Observes and drives the framework's session bookkeeping on one Backend.

    The framework has no callbacks for a session's start or end, so the instance attributes
    its own code calls through are replaced by wrappers that call the originals.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.on_reserved: list[Callable[[Session], None]] = []
        self.on_closed: list[Callable[[Session, str], None]] = []
        self._how: dict[str, str] = {}
        self._verified: set[tuple[str, str]] = set()
        self._report: asyncio.Task[None] | None = None
        self._report_again = False
        self._serialize_reports(backend.metrics)
        self._close_original = backend._Backend__close_session
        backend._Backend__close_session = self._close
        self._create_original = backend.session_create_handler
        backend.session_create_handler = self._create

    @staticmethod
    def _serialize_reports(metrics: Any) -> None:
        """One report at a time: the framework's 1 s loops and report_now() share the
        pending lists, and two sends snapshotting them at once report a request twice."""
        lock = asyncio.Lock()
        for name in ("_Metrics__send_delete_requests_and_reset",
                     "_Metrics__send_metrics_and_reset"):
            send = getattr(metrics, name)

            async def locked(send: Callable[[], Any] = send) -> None:
                async with lock:
                    await send()

            setattr(metrics, name, locked)

    @property
    def sessions(self) -> dict[str, Session]:
        return self.backend.sessions

    async def _create(self, request: web.Request) -> web.StreamResponse:
        response = await self._create_original(request)
        if response.status == 201:
            session_id = json.loads(response.body)["session_id"]
            for listener in self.on_reserved:
                listener(self.backend.sessions[session_id])
        return response

    def extend(self, session_id: str, expires: float) -> Session | None:
        """Move a session's expiry later (never earlier); the framework's collector reads
        it every 5 s."""
        session = self.backend.sessions.get(session_id)
        if session is not None:
            session.expiration = max(session.expiration, expires)
        return session

    async def close(self, session_id: str, how: str) -> bool:
        """End a session through the framework's own path: on_close runs, metrics update."""
        self._how[session_id] = how
        return await self._close(session_id)

    async def _close(self, session_id: str) -> bool:
        session = self.backend.sessions.get(session_id)
        how = self._how.pop(session_id, None)
        if how is None:
            expired = session is not None and session.expiration <= time.time()
            how = "expired" if expired else "client"
        closed = await self._close_original(session_id)
        if closed and session is not None:
            for listener in self.on_closed:
                listener(session, how)
        return closed

    def after_errored(self, callback: Callable[[str], None]) -> None:
        """Call `callback(message)` each time the framework marks the worker errored."""
        original = self.backend.backend_errored

        def errored(message: str) -> None:
            original(message)
            self.backend.metrics.update_pending = True
            self.report_now()  # the autoscaler stops routing here now, not in up to 10 s
            callback(message)

        self.backend.backend_errored = errored

    def after_loaded(self, callback: Callable[[float], None]) -> None:
        """Call `callback(max_perf)` once the framework marks the worker loaded."""
        metrics = self.backend.metrics
        original = metrics._model_loaded

        def loaded(max_throughput: float) -> None:
            original(max_throughput)
            metrics.update_pending = True
            callback(max_throughput)
            self.report_now()  # not a second later at the framework's first tick

        metrics._model_loaded = loaded

    def guard_routes(self, worker: Worker, rules: CreateRules) -> None:
        """Put the checks of worker/guard.py in front of every route the framework serves.

        The framework registers these Backend attributes and `worker.routes` when its
        server starts, so wrapping them here covers both of its ports.
        """
        backend = self.backend
        backend.session_create_handler = guarded(backend.session_create_handler, rules.check)
        for name in ("session_end_handler", "session_get_handler", "session_health_handler"):
            setattr(backend, name, guarded(getattr(backend, name), check_session_ref))
        backend.pyworker_update_handler = not_here
        worker.routes = [web.route(route.method, route.path,
                                   guarded(route.handler, rules.check_request))
                         for route in worker.routes]

    def verify_signature(self, auth: dict[str, Any]) -> bool:
        """The framework's own check of the autoscaler's signature (honours UNSECURED).

        The signature covers only the URL, so a pair once verified against the one public
        key stays valid; remembering it saves an RSA verification per reservation.
        """
        pair = (auth["url"], auth["signature"])
        if pair in self._verified:
            return True
        if not self.backend._Backend__check_signature(AuthData.from_json_msg(auth)):
            return False
        if len(self._verified) >= VERIFIED_PAIRS:
            self._verified.clear()
        self._verified.add(pair)
        return True

    async def shutdown(self) -> None:
        """Close the framework's HTTP client sessions so the process exits quietly."""
        client = self.backend.__dict__.get("session")
        if client is not None:
            await client.close()
        await self.backend.metrics.aclose()

    def report_now(self) -> None:
        """Send status and finished-request reports now rather than at the next 1 s tick.

        Calls while a report is in flight are folded into one more report after it.
        """
        if self._report is not None and not self._report.done():
            self._report_again = True
            return
        self._report = asyncio.get_running_loop().create_task(self._send_reports())

    async def flush_reports(self, timeout: float = 5.0) -> None:
        """Report now and wait for it, up to `timeout` seconds (used when stopping)."""
        self.report_now()
        if self._report is not None:
            await asyncio.wait({self._report}, timeout=timeout)

    async def _send_reports(self) -> None:
        metrics = self.backend.metrics
        self._report_again = True
        while self._report_again:
            self._report_again = False
            await asyncio.gather(
                metrics._Metrics__send_delete_requests_and_reset(),
                metrics._Metrics__send_metrics_and_reset(),
                return_exceptions=True,
            )


def quiet_framework_logs(level: str) -> None:
    """Undo the framework's forced DEBUG root logger unless the operator asked for debug.

    Its per-request signature errors echo whatever a caller sent; worker/guard.py already
    answers those with 401, so they are dropped too.
    """
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
    for handler in root.handlers:
        handler.setLevel(logging.NOTSET)
    if level != "debug":
        logging.getLogger(backend_module.__file__).addFilter(
            lambda record: not record.getMessage().startswith("Signature error"))
        # Malformed HTTP from anyone on the internet: aiohttp answers 400 itself, and its
        # traceback would echo the caller's bytes into the log.
        logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
