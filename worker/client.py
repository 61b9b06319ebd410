"""Client demo: reserve workers with Vast's own SDK, hold them, release them.

    python -m worker.client --endpoint NAME --instance {prod,alpha,candidate,local}
        [--count N] [--hold S] [--interval S] [--cost C] [--api-key KEY]

It prints one line per change of each reservation. A reservation that the consumer
released before the hold ended counts as released, not as an error.
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
from typing import Any

from vastai.serverless.client.client import CoroutineServerless
from vastai.serverless.client.endpoint import Endpoint
from vastai.serverless.client.session import Session

INSTANCES = ("prod", "alpha", "candidate", "local")
EMULATOR_URL = "http://localhost:8080"
EMULATOR_API_KEY = "emulator-key"
LIFETIME_MARGIN = 60.0
POLL_SECONDS = 2.0


def make_client(instance: str, api_key: str, emulator_url: str = EMULATOR_URL,
                debug: bool = False) -> CoroutineServerless:
    """The SDK client; with `local`, every Vast URL it uses points at the emulator."""
    if instance != "local":
        client = CoroutineServerless(api_key, instance=instance, debug=debug)
    else:
        client = CoroutineServerless(api_key, instance="local", debug=debug,
                                     autoscaler_url=emulator_url, webserver_url=emulator_url)
        # The SDK fetches Vast's root certificate from a fixed URL before any request; the
        # emulator's CA stands in for it, so offline clients also verify workers' TLS.
        client.SSL_CERT_URL = f"{emulator_url}/static/jvastai_root.cer"
    if not debug:
        logging.getLogger(type(client).__name__).setLevel(logging.CRITICAL)
    return client


def say(number: int, message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} reservation {number}: {message}", flush=True)


async def is_held(session: Session, retries: int = 1) -> bool:
    """Whether the worker still holds the session; False once the consumer released it.

    A connection the SDK kept open to a worker that has since restarted fails once, so a
    failure other than the worker's own answer is tried again before it is raised.
    """
    try:
        return await session.is_open()
    except Exception as error:
        if "does not exist" in str(error):
            return False
        if retries == 0:
            raise
    return await is_held(session, retries - 1)


async def release(client: CoroutineServerless, session: Session) -> str:
    """End the session; 'client' when this call ended it, 'consumer' when it was gone."""
    try:
        await client.end_endpoint_session(session)
    except Exception as error:
        if "not found" in str(error):
            return "consumer"
        raise
    finally:
        session.open = False
    return "client"


async def hold_one(client: CoroutineServerless, endpoint: Endpoint, number: int,
                   hold: float, cost: float) -> bool:
    say(number, "waiting for a worker")
    session = await endpoint.session(cost=cost, lifetime=hold + LIFETIME_MARGIN)
    started = time.monotonic()
    say(number, f"held since {time.strftime('%H:%M:%S')} (session {session.session_id} "
                f"on {session.url})")
    try:
        while (left := hold - (time.monotonic() - started)) > 0:
            await asyncio.sleep(min(POLL_SECONDS, left))
            if not await is_held(session):
                say(number, f"released by consumer after {time.monotonic() - started:.1f} s")
                return True
        who = await asyncio.shield(release(client, session))
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.shield(release(client, session))
        say(number, "released (interrupted)")
        raise
    except Exception as error:
        say(number, f"error: {error}")
        return False
    if who == "consumer":
        say(number, f"released by consumer after {time.monotonic() - started:.1f} s")
    else:
        say(number, f"released after {time.monotonic() - started:.1f} s")
    return True


async def run(args: argparse.Namespace) -> int:
    async with make_client(args.instance, args.api_key, args.emulator_url, args.debug) as client:
        try:
            endpoint = await client.get_endpoint(args.endpoint)
        except Exception as error:
            print(f"client: cannot find endpoint {args.endpoint!r} on {args.instance}: {error}",
                  file=sys.stderr)
            return 1

        async def staggered(number: int) -> bool:
            await asyncio.sleep((number - 1) * args.interval)
            try:
                return await hold_one(client, endpoint, number, args.hold, args.cost)
            except Exception as error:
                say(number, f"error: {error}")
                return False

        results = await asyncio.gather(*(staggered(n) for n in range(1, args.count + 1)))
    return 0 if all(results) else 1


def add_vast_options(parser: argparse.ArgumentParser) -> None:
    """--endpoint, --instance, --api-key, --emulator-url, --debug: how to reach an endpoint."""
    parser.add_argument("--endpoint", required=True, help="the Vast serverless endpoint's name")
    parser.add_argument("--instance", choices=INSTANCES, default="prod",
                        help="which Vast autoscaler; local is the emulator (default prod)")
    parser.add_argument("--api-key", default=os.environ.get("VAST_API_KEY"),
                        help="Vast API key (default: $VAST_API_KEY)")
    parser.add_argument("--emulator-url", default=EMULATOR_URL,
                        help=f"with --instance local: the emulator's URL (default {EMULATOR_URL})")
    parser.add_argument("--debug", action="store_true", help="show the SDK's own logs")


def check_vast_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """An API key is required except with the emulator, which has a default one."""
    if not args.api_key:
        if args.instance != "local":
            parser.error("no API key: set VAST_API_KEY or pass --api-key")
        args.api_key = EMULATOR_API_KEY


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m worker.client", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_vast_options(parser)
    parser.add_argument("--count", type=_positive(int), default=1,
                        help="concurrent reservations (default 1)")
    parser.add_argument("--hold", type=_positive(float), default=180.0,
                        help="seconds each reservation is held (default 180)")
    parser.add_argument("--interval", type=_non_negative, default=30.0,
                        help="seconds between starts when --count > 1 (default 30)")
    parser.add_argument("--cost", type=_positive(float), default=100.0,
                        help="load reported per reservation (default 100, the worker's max_perf)")
    args = parser.parse_args(argv)
    check_vast_options(parser, args)
    return args


def _positive(kind: type) -> Any:
    def parse(raw: str) -> Any:
        value = kind(raw)
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{raw!r} must be a positive number")
        return value
    parse.__name__ = kind.__name__
    return parse


def _non_negative(raw: str) -> float:
    value = float(raw)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{raw!r} must be zero or more seconds")
    return value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    loop = asyncio.new_event_loop()
    task = loop.create_task(run(args))
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        return 130
    finally:
        loop.close()


if __name__ == "__main__":
    sys.exit(main())
