"""The consumer's settings, read once from the environment of the worker container."""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

DEFAULT_STREAM = "jobs"
DEFAULT_GROUP = "workers"
DEFAULT_WORK_FUNCTION = "redis_consumer.demo:work"


class ConfigError(ValueError):
    """A setting that is missing or wrong; the message says what to do about it."""


@dataclass(frozen=True)
class Settings:
    redis_url: str
    stream: str
    group: str
    consumer: str
    work_function: str
    visibility_seconds: float
    idle_grace_seconds: float
    stop_seconds: float
    max_deliveries: int
    done_ttl_seconds: int
    control_port: int
    log_level: str

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.control_port}"

    @property
    def redis_shown(self) -> str:
        return shown_url(self.redis_url)


def shown_url(url: str) -> str:
    """The URL with any password replaced, fit for logs."""
    parts = urlsplit(url)
    credentials, at, host = parts.netloc.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _seconds(env: Mapping[str, str], name: str, default: float, above: float = 0.0,
             zero_ok: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not (value > above or (zero_ok and value == 0)):
        raise ConfigError(f"{name}={raw!r} is not a number of seconds above {above:g}")
    return value


def _whole(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name}={raw!r} is not a whole number of at least 1")
    return int(raw)


def _redis_url(env: Mapping[str, str]) -> str:
    raw = env.get("REDIS_URL", "").strip()
    if not raw:
        raise ConfigError("REDIS_URL is not set: set it to your queue's Redis, "
                          "e.g. redis://:PASSWORD@redis.example.com:6379/0")
    parts = urlsplit(raw)
    problem = ""
    if parts.scheme not in ("redis", "rediss", "unix"):
        problem = "is not a Redis URL"
    else:
        try:
            parts.port  # noqa: B018 (urlsplit checks the port only when asked)
        except ValueError:
            problem = "has a port that is not a number"
    if problem:
        raise ConfigError(f"REDIS_URL={shown_url(raw)!r} {problem}: use redis://HOST:6379/0, "
                          "rediss:// for TLS, or unix:///path/to/socket")
    return raw


def _work_function(env: Mapping[str, str]) -> str:
    raw = env.get("WORK_FUNCTION", "").strip() or DEFAULT_WORK_FUNCTION
    module, _, function = raw.partition(":")
    if not module or not function.isidentifier():
        raise ConfigError(f"WORK_FUNCTION={raw!r} is not module:function, "
                          "e.g. myjobs.tasks:handle")
    return raw


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Read and check every setting; raise ConfigError naming the first bad one."""
    env = os.environ if env is None else env
    port_raw = env.get("NULL_CONTROL_PORT", "").strip() or "18999"
    if not port_raw.isdigit() or not 0 < int(port_raw) < 65536:
        raise ConfigError(f"NULL_CONTROL_PORT={port_raw!r} is not a port: use 1 to 65535")
    consumer = (env.get("CONSUMER_NAME", "").strip() or env.get("CONTAINER_ID", "").strip()
                or socket.gethostname())
    return Settings(
        redis_url=_redis_url(env),
        stream=env.get("QUEUE_STREAM", "").strip() or DEFAULT_STREAM,
        group=env.get("QUEUE_GROUP", "").strip() or DEFAULT_GROUP,
        consumer=consumer,
        work_function=_work_function(env),
        visibility_seconds=_seconds(env, "QUEUE_VISIBILITY_SECONDS", 60.0, above=0.5),
        idle_grace_seconds=_seconds(env, "QUEUE_IDLE_GRACE_SECONDS", 10.0),
        stop_seconds=_seconds(env, "CONSUMER_STOP_SECONDS", 30.0, zero_ok=True),
        max_deliveries=_whole(env, "QUEUE_MAX_DELIVERIES", 5),
        done_ttl_seconds=_whole(env, "QUEUE_DONE_TTL_SECONDS", 7 * 24 * 3600),
        control_port=int(port_raw),
        log_level=(env.get("LOG_LEVEL", "").strip().lower() or "info"),
    )
