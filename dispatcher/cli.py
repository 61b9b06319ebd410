"""Dispatcher: hold one reservation per queued-or-running job of a Redis stream.

    python -m dispatcher --endpoint NAME --instance {prod,alpha,candidate,local}
        --redis-url URL --stream S --group G --max-workers N [--lifetime S]

Every second it reads the queue's depth (entries not yet delivered to the group, plus entries
delivered and not yet acknowledged) and keeps min(depth, --max-workers) reservations open
with Vast's SDK. The consumer beside each reserved worker releases its reservation after its
job; the dispatcher sees that and reserves again while work remains, and closes reservations
left over when the queue drains. SIGTERM or SIGINT closes every reservation it holds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time

import redis
import redis.asyncio as aredis

from dispatcher.depth import Depth, GroupMissing, ensure_group, read_depth
from dispatcher.reservations import Reservations
from worker.client import add_vast_options, check_vast_options, make_client

log = logging.getLogger("dispatcher")

TICK_SECONDS = 1.0
# A consumer acknowledges its job a moment before it releases the reservation; closing a
# surplus only after it lasted this long lets consumers release their own first.
SURPLUS_GRACE_SECONDS = 3.0


class Dispatcher:
    def __init__(self, args: argparse.Namespace, queue: aredis.Redis,
                 reservations: Reservations) -> None:
        self.args = args
        self.queue = queue
        self.reservations = reservations
        self._surplus_since: float | None = None
        self._last_line = ""
        self._problem = ""

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.tick()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_SECONDS)
        log.info("stopping: closing %d reservations, cancelling %d still waiting",
                 len(self.reservations.held), len(self.reservations.reserving))
        await self.reservations.close_all("dispatcher stopping")

    async def tick(self) -> None:
        ended = await self.reservations.check()
        try:
            depth = await read_depth(self.queue, self.args.stream, self.args.group,
                                     self.args.max_workers)
        except (redis.RedisError, GroupMissing, OSError) as error:
            self._report(f"cannot read the queue's depth: {_short(error)}; keeping "
                         f"{len(self.reservations)} reservations and retrying")
            return
        if self._problem:
            self._problem = ""
            log.info("queue readable again")
        action = await self._reconcile(depth)
        self._log_decision(depth, ended, action)

    async def _reconcile(self, depth: Depth) -> str:
        pool = self.reservations
        wanted = min(depth.total, self.args.max_workers)
        if len(pool) < wanted:
            missing = wanted - len(pool)
            pool.reserve(missing)
            self._surplus_since = None
            return f"reserving {missing} more"
        if len(pool) == wanted:
            self._surplus_since = None
            return ""
        cancelled = pool.cancel_reserving(len(pool) - wanted)
        surplus = len(pool.held) - wanted
        action = f"cancelled {cancelled} waiting" if cancelled else ""
        if surplus <= 0:
            self._surplus_since = None
            return action
        now = time.monotonic()
        if self._surplus_since is None:
            self._surplus_since = now
        if now - self._surplus_since < SURPLUS_GRACE_SECONDS:
            return action
        self._surplus_since = None
        await pool.close_newest(surplus, "surplus: the queue drained")
        return ", ".join(filter(None, [action, f"closed {surplus} surplus"]))

    def _log_decision(self, depth: Depth, ended: int, action: str) -> None:
        pool = self.reservations
        line = (f"depth {depth.total} (waiting {depth.waiting}, running {depth.running}), "
                f"held {len(pool.held)}, reserving {len(pool.reserving)}, "
                f"released {ended}")
        if action or ended or line != self._last_line:
            log.info("%s%s", line, f"; {action}" if action else "")
        self._last_line = line

    def _report(self, message: str) -> None:
        if message != self._problem:
            self._problem = message
            log.error("%s", message)


async def serve(args: argparse.Namespace, stop: asyncio.Event) -> int:
    queue = aredis.Redis.from_url(args.redis_url, decode_responses=True,
                                  socket_connect_timeout=5, socket_timeout=10)
    try:
        created = await ensure_group(queue, args.stream, args.group)
    except (redis.RedisError, OSError) as error:
        print(f"dispatcher: cannot use Redis at {_shown(args.redis_url)}: {_short(error)}; "
              "check --redis-url and that Redis is running", file=sys.stderr)
        await queue.aclose()
        return 1
    log.info("%s stream %s with group %s on %s", "created" if created else "using",
             args.stream, args.group, _shown(args.redis_url))
    try:
        async with make_client(args.instance, args.api_key, args.emulator_url,
                               args.debug) as client:
            try:
                endpoint = await client.get_endpoint(args.endpoint)
            except Exception as error:
                print(f"dispatcher: cannot find endpoint {args.endpoint!r} on "
                      f"{args.instance}: {_short(error)}", file=sys.stderr)
                return 1
            log.info("endpoint %s on %s: up to %d reservations of %gs each", args.endpoint,
                     args.instance, args.max_workers, args.lifetime)
            reservations = Reservations(client, endpoint, args.lifetime)
            await Dispatcher(args, queue, reservations).run(stop)
            counts = reservations.counts
            log.info("stopped: %d reserved, %d released by consumers, %d expired, "
                     "%d closed, %d lost, %d failed", counts["reserved"], counts["released"],
                     counts["expired"], counts["closed"], counts["lost"], counts["failed"])
    finally:
        await queue.aclose()
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dispatcher", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_vast_options(parser)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"),
                        help="the queue's Redis (default: $REDIS_URL)")
    parser.add_argument("--stream", default="jobs", help="the queue's stream (default jobs)")
    parser.add_argument("--group", default="workers",
                        help="the consumers' group (default workers)")
    parser.add_argument("--max-workers", type=_positive_int, required=True,
                        help="most reservations held at once")
    parser.add_argument("--lifetime", type=_positive_float, default=900.0,
                        help="seconds a reservation lasts unless released; longer than any "
                             "job (default 900)")
    args = parser.parse_args(argv)
    if not args.redis_url:
        parser.error("no Redis: pass --redis-url or set REDIS_URL")
    if not args.redis_url.startswith(("redis://", "rediss://", "unix://")):
        parser.error(f"--redis-url {_shown(args.redis_url)} is not a Redis URL: use "
                     "redis://HOST:6379/0, rediss:// for TLS, or unix:///path")
    check_vast_options(parser, args)
    return args


def _positive_int(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise argparse.ArgumentTypeError(f"{raw!r} must be a whole number of at least 1")
    return int(raw)


def _positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{raw!r} must be a positive number of seconds")
    return value


def _shown(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


def _short(error: BaseException) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__


def configure_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s dispatcher %(levelname)s %(message)s",
                                           datefmt="%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    log.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.debug)

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        return await serve(args, stop)

    return asyncio.run(run())
