"""Start the null PyWorker: the framework's worker plus the control server, in one loop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from worker import config, control
from worker.config import Settings
from worker.framework import Hooks, build_worker, pin_benchmark, quiet_framework_logs
from worker.guard import CreateRules
from worker.reservation import Reservations
from worker.supervision import consumer_health

log = logging.getLogger("null_worker")


HEALTH_PATIENCE_SECONDS = 30.0


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s worker %(levelname)s %(message)s",
                                           datefmt="%Y-%m-%d %H:%M:%S"))
    logging.getLogger().addHandler(handler)
    log.setLevel(level.upper())


async def _warn_if_never_healthy(settings: Settings, loaded: asyncio.Event) -> None:
    """The framework waits up to 300 s, silently, for the first healthy answer."""
    try:
        await asyncio.wait_for(loaded.wait(), HEALTH_PATIENCE_SECONDS)
    except asyncio.TimeoutError:
        target = (f"BACKEND_HEALTH_URL={settings.health_url}" if settings.health_url
                  else f"the control server's {settings.control_url}/health")
        log.warning("not ready after %.0f s: %s has not answered 200 yet; the worker takes no "
                    "reservation until it does", HEALTH_PATIENCE_SECONDS, target)


async def serve(settings: Settings) -> None:
    pin_benchmark()
    worker = build_worker(settings)
    quiet_framework_logs(settings.log_level)

    hooks = Hooks(worker.backend)
    rules = CreateRules(verify=hooks.verify_signature, max_lifetime=settings.max_lifetime,
                        public_url=settings.public_url, is_reserved=lambda: bool(hooks.sessions))
    hooks.guard_routes(worker, rules)
    hooks.on_reserved.append(lambda session: rules.remember(session.auth_data))
    reservations = Reservations(hooks, settings.max_lifetime)
    if settings.unsecured:
        log.warning("UNSECURED=true: signatures are not checked, so anyone who can reach port "
                    "%d can reserve this worker; never set it on Vast", settings.worker_port)
    loaded = asyncio.Event()

    def ready(perf: float) -> None:
        loaded.set()
        log.info("ready: max_perf %g, one reservation at a time, serving %s on port %d",
                 perf, settings.public_url, settings.worker_port)

    hooks.after_loaded(ready)
    last_error = ""

    def errored(message: str) -> None:
        nonlocal last_error
        if message != last_error:
            last_error = message
            log.warning("health failed: %s; the autoscaler now sees this worker as errored",
                        message)

    hooks.after_errored(errored)

    try:
        runner = await control.start(control.make_app(reservations, consumer_health),
                                     settings.control_port)
    except OSError as error:
        raise StartupError(f"NULL_CONTROL_PORT={settings.control_port} cannot be used on "
                           f"127.0.0.1 ({error.strerror}): choose a free port") from None
    log.info("control server on %s (POST /release, GET /session, GET /health)",
             settings.control_url)
    watcher = asyncio.ensure_future(_warn_if_never_healthy(settings, loaded))
    try:
        if await _until_stopped(worker.run_async()):
            log.info("stopping: signal received")
            await reservations.release_for_stop()
    finally:
        watcher.cancel()
        await runner.cleanup()
        await hooks.shutdown()


class StartupError(RuntimeError):
    """The worker cannot start; the message says what to change."""


async def _until_stopped(work: Coroutine[Any, Any, None]) -> bool:
    """Run `work` until SIGTERM/SIGINT (True) or until it ends (False, or its error)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return True
    task.result()
    return False


def main() -> int:
    try:
        settings = config.load()
    except config.ConfigError as error:
        print(f"null-worker: {error}", file=sys.stderr)
        return 2
    config.export_for_framework(settings, os.environ)
    configure_logging(settings.log_level)
    try:
        asyncio.run(serve(settings))
    except StartupError as error:
        print(f"null-worker: {error}", file=sys.stderr)
        return 2
    return 0
