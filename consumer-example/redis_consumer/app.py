"""Start the consumer: read settings, import the work function, connect, handle signals."""

from __future__ import annotations

import importlib
import logging
import signal
import sys

import redis

from redis_consumer import config
from redis_consumer.consumer import BLOCK_SECONDS, Consumer, Work
from redis_consumer.control import Control
from redis_consumer.jobs import JobQueue


def load_work_function(spec: str) -> Work:
    module_name, _, name = spec.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as error:
        raise config.ConfigError(f"WORK_FUNCTION={spec!r} cannot be imported: {error}; "
                                 "check the name and PYTHONPATH") from None
    if not callable(function):
        raise config.ConfigError(f"WORK_FUNCTION={spec!r} is not a function")
    return function


def connect(settings: config.Settings) -> redis.Redis:
    try:
        return redis.Redis.from_url(settings.redis_url, decode_responses=True,
                                    socket_connect_timeout=5, socket_timeout=BLOCK_SECONDS + 10,
                                    health_check_interval=30)
    except ValueError as error:
        raise config.ConfigError(f"REDIS_URL={settings.redis_shown!r} is not a valid Redis "
                                 f"URL: {error}") from None


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s consumer %(levelname)s %(message)s",
                                           datefmt="%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("redis_consumer").setLevel(
        logging.DEBUG if level == "debug" else logging.INFO)


def main() -> int:
    try:
        settings = config.load()
        work = load_work_function(settings.work_function)
        client = connect(settings)
    except config.ConfigError as error:
        print(f"consumer: {error}", file=sys.stderr, flush=True)
        return 2
    configure_logging(settings.log_level)
    queue = JobQueue(client, settings.stream, settings.group, settings.consumer,
                     settings.visibility_seconds, settings.done_ttl_seconds)
    consumer = Consumer(settings, queue, Control(settings.control_url), work)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, consumer.on_signal)
    return consumer.run()
