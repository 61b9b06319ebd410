"""The stock path's null PyWorker: vastai's framework with one /ping route whose benchmark
is pinned, one session at a time, ready once a stub health route on loopback answers.

It takes the same readiness path as null-worker (a lifecycle, a pinned benchmark, one
healthcheck), so the bench compares the install at boot, not two ways of becoming ready.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from vastai.serverless.server.lib.backend import BENCHMARK_INDICATOR_FILE
from vastai.serverless.server.worker import BenchmarkConfig, HandlerConfig, Worker, WorkerConfig

CONTROL_PORT = 18999


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


@asynccontextmanager
async def stub_backend() -> AsyncIterator[None]:
    app = web.Application()
    app.router.add_get("/health", ok)
    app.router.add_post("/ping", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", CONTROL_PORT).start()
    try:
        yield
    finally:
        await runner.cleanup()


async def main() -> None:
    os.chdir(tempfile.mkdtemp())
    with open(BENCHMARK_INDICATOR_FILE, "w") as marker:
        marker.write("100")
    worker = Worker(WorkerConfig(
        model_server_url="http://127.0.0.1",
        model_server_port=CONTROL_PORT,
        handlers=[HandlerConfig(route="/ping", allow_parallel_requests=True,
                                benchmark_config=BenchmarkConfig(dataset=[{}], runs=1))],
        model_healthcheck_url=f"http://127.0.0.1:{CONTROL_PORT}/health",
        max_sessions=1,
        lifecycle=stub_backend(),
    ))
    await worker.run_async()


if __name__ == "__main__":
    asyncio.run(main())
