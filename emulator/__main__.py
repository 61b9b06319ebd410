"""Command line: `python -m emulator --port 8080 --endpoint null-demo`."""

import argparse
import asyncio
import ipaddress
import logging
import signal
import sys
from collections.abc import Sequence

from aiohttp import web

from .app import make_app
from .config import EmulatorConfig

log = logging.getLogger("emulator")

LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
DEFAULTS = EmulatorConfig()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description="Emulate Vast's serverless control plane for one endpoint, no account needed.",
    )
    parser.add_argument("--host", default=DEFAULTS.host, help="address to listen on")
    parser.add_argument(
        "--port", type=_port, default=DEFAULTS.port, help="port to listen on (0 picks a free one)"
    )
    parser.add_argument(
        "--endpoint", default=DEFAULTS.endpoint_name, help="name of the emulated endpoint"
    )
    parser.add_argument(
        "--endpoint-id", type=_positive_int, default=DEFAULTS.endpoint_id, help="its numeric id"
    )
    parser.add_argument(
        "--api-key", default=DEFAULTS.api_key, help="key the SDK must send to use the endpoint"
    )
    parser.add_argument(
        "--cert-ip",
        type=_ip,
        action="append",
        help="IP address added to every signed worker certificate (repeatable; default 127.0.0.1)",
    )
    parser.add_argument(
        "--max-queue-time",
        type=_positive_float,
        default=DEFAULTS.max_queue_time,
        help="a worker whose implied queue time reaches this many seconds takes no new request",
    )
    parser.add_argument(
        "--stale-after",
        type=_positive_float,
        default=DEFAULTS.stale_after,
        help="seconds without a status report after which a worker gets no request",
    )
    parser.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), default="info"
    )
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        endpoint_name=args.endpoint,
        endpoint_id=args.endpoint_id,
        api_key=args.api_key,
        cert_ips=tuple(args.cert_ip or DEFAULTS.cert_ips),
        max_queue_time=args.max_queue_time,
        stale_after=args.stale_after,
    )


async def serve(config: EmulatorConfig, access_log: bool) -> None:
    access_logger = logging.getLogger("aiohttp.access") if access_log else None
    runner = web.AppRunner(make_app(config), access_log=access_logger)
    await runner.setup()
    try:
        await web.TCPSite(runner, config.host, config.port).start()
    except OSError as error:
        await runner.cleanup()
        log.error(
            "cannot listen on %s:%d: %s; pick another --port or --host",
            config.host,
            config.port,
            error.strerror or error,
        )
        raise SystemExit(1) from None

    host, port = runner.addresses[0][:2]
    shown = f"[{host}]" if ":" in host else host
    log.info(
        "emulator listening on http://%s:%d for endpoint %s (id %d)",
        shown,
        port,
        config.endpoint_name,
        config.endpoint_id,
    )
    if config.api_key == DEFAULTS.api_key and not _is_loopback(config.host):
        log.warning(
            "api key is the default %r and %s is reachable from other hosts: "
            "set --api-key so others cannot route requests",
            config.api_key,
            config.host,
        )

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    log.info("emulator stopping")
    await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level.upper(),
        format=LOG_FORMAT,
        datefmt="%Y-%m-%d %H:%M:%S",
    )
    asyncio.run(serve(config_from(args), access_log=args.log_level == "debug"))


def _port(text: str) -> int:
    port = _number(int, text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port number (0-65535)")
    return port


def _positive_int(text: str) -> int:
    number = _number(int, text)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be a positive integer")
    return number


def _positive_float(text: str) -> float:
    number = _number(float, text)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{text} must be a positive number of seconds")
    return number


def _number(kind: type[int] | type[float], text: str) -> int | float:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} is not an IP address") from None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


if __name__ == "__main__":
    main()
