"""Start the null PyWorker: the framework's worker plus the control server, in one loop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from worker import config, control
from worker.config import Settings
from worker.framework import Hooks, build_worker, pin_benchmark, quiet_framework_logs
from worker.guard import CreateRules
from worker.reservation import Reservations
from worker.supervision import consumer_health

log = logging.getLogger("null_worker")


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s worker %(levelname)s %(message)s",
                                           datefmt="%Y-%m-%d %H:%M:%S"))
    logging.getLogger().addHandler(handler)
    log.setLevel(logging.DEBUG if level == "debug" else logging.INFO)


async def serve(settings: Settings) -> None:
    pin_benchmark()
    worker = build_worker(settings)
    quiet_framework_logs(settings.log_level)

    hooks = Hooks(worker.backend)
    rules = CreateRules(verify=hooks.verify_signature, max_lifetime=settings.max_lifetime,
                        is_reserved=lambda: bool(hooks.sessions))
    hooks.guard_routes(worker, rules)
    hooks.on_reserved.append(lambda session: rules.remember(session.auth_data))
    reservations = Reservations(hooks, settings.max_lifetime)
    if settings.unsecured:
        log.warning("UNSECURED=true: signatures are not checked, so anyone who can reach port "
                    "%d can reserve this worker; never set it on Vast", settings.worker_port)
    hooks.after_loaded(lambda perf: log.info(
        "ready: max_perf %g, one reservation at a time, serving %s on port %d",
        perf, settings.public_url, settings.worker_port))
    last_error = ""

    def errored(message: str) -> None:
        nonlocal last_error
        if message != last_error:
            last_error = message
            log.warning("health failed: %s; the autoscaler now sees this worker as errored",
                        message)

    hooks.after_errored(errored)

    runner = await control.start(control.make_app(reservations, consumer_health),
                                 settings.control_port)
    log.info("control server on %s (POST /release, GET /session, GET /health)",
             settings.control_url)
    try:
        await _until_stopped(worker.run_async())
    finally:
        await runner.cleanup()
        await hooks.shutdown()


async def _until_stopped(work: object) -> None:
    """Run `work` until it ends or SIGTERM/SIGINT arrives."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for pending in (task, stopper):
        pending.cancel()
    if stop.is_set():
        log.info("stopping: signal received")


def main() -> int:
    try:
        settings = config.load()
    except config.ConfigError as error:
        print(f"null-worker: {error}", file=sys.stderr)
        return 2
    config.export_for_framework(settings, os.environ)
    configure_logging(settings.log_level)
    asyncio.run(serve(settings))
    return 0
