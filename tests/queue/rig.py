"""The queue tests' rig: a real redis-server, jobs on a stream, and the dispatcher process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from tests.support import ENDPOINT, REPO, free_port, wait_until

CONSUMER_SRC = REPO / "consumer-example"
STREAM = "jobs"
GROUP = "workers"
RUNS_KEY = "test:runs"


def redis_server_binary() -> str:
    """redis-server from Debian's archive, installed on first use when running as root."""
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() != 0:
        raise RuntimeError("redis-server is missing: run `apt-get install -y redis-server` "
                           "as root, or `make test` as root, which installs it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "redis-server"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=True)
        subprocess.run(install, env=env, capture_output=True, check=True)
    return shutil.which("redis-server") or "/usr/bin/redis-server"


@dataclass
class RedisServer:
    process: subprocess.Popen | None
    url: str
    client: redis.Redis

    def stop(self) -> None:
        self.client.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def start_redis_server(workdir: Path) -> RedisServer:
    port = free_port()
    log = (workdir / "redis.log").open("w")
    process = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, decode_responses=True)
    server = RedisServer(process, url, client)
    try:
        wait_until("redis-server to answer", client.ping, timeout=15)
    except AssertionError:
        server.stop()
        raise
    return server


def consumer_env(redis_url: str, **extra: str) -> dict[str, str]:
    """What a worker needs to run redis_consumer as its CONSUMER_CMD, tuned for quick tests."""
    return {
        "REDIS_URL": redis_url,
        "QUEUE_STREAM": STREAM,
        "QUEUE_GROUP": GROUP,
        "QUEUE_VISIBILITY_SECONDS": "4",
        "QUEUE_IDLE_GRACE_SECONDS": "3",
        "DEMO_LOG_KEY": RUNS_KEY,
        **extra,
    }


def produce(client: redis.Redis, count: int, seconds: float, prefix: str = "job") -> list[str]:
    """Add `count` jobs to the stream; their job ids."""
    ids = [f"{prefix}-{n:03d}" for n in range(count)]
    with client.pipeline() as pipe:
        for job_id in ids:
            pipe.xadd(STREAM, {"job_id": job_id, "seconds": str(seconds)})
        pipe.execute()
    return ids


def runs(client: redis.Redis) -> list[dict[str, Any]]:
    """Every finished run of a job, as the demo work function recorded it."""
    return [json.loads(line) for line in client.lrange(RUNS_KEY, 0, -1)]


def runs_per_job(client: redis.Redis) -> Counter[str]:
    return Counter(run["job"] for run in runs(client))


def stats(client: redis.Redis) -> dict[str, int]:
    return {k: int(v) for k, v in client.hgetall(f"{STREAM}:{GROUP}:stats").items()}


def pending_by_consumer(client: redis.Redis) -> dict[str, list[str]]:
    """Entries delivered and not yet acknowledged, by the consumer that holds them."""
    held: dict[str, list[str]] = {}
    for entry in client.xpending_range(STREAM, GROUP, "-", "+", 100):
        held.setdefault(entry["consumer"], []).append(entry["message_id"])
    return held


def queue_drained(client: redis.Redis) -> bool:
    groups = {g["name"]: g for g in client.xinfo_groups(STREAM)}
    group = groups.get(GROUP)
    return bool(group) and group["pending"] == 0 and group["lag"] == 0


@dataclass
class DispatcherProcess:
    process: subprocess.Popen
    log_path: Path

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    def idle(self) -> bool:
        """The last decision logged shows an empty queue and nothing held or waited for."""
        decisions = [line for line in self.logs().splitlines() if " depth " in line]
        return bool(decisions) and "depth 0 " in decisions[-1] and \
            "held 0, reserving 0" in decisions[-1]


def start_dispatcher(workdir: Path, emulator_url: str, redis_url: str, max_workers: int,
                     *extra: str) -> DispatcherProcess:
    log_path = workdir / "dispatcher.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "dispatcher", "--endpoint", ENDPOINT, "--instance", "local",
         "--emulator-url", emulator_url, "--redis-url", redis_url, "--stream", STREAM,
         "--group", GROUP, "--max-workers", str(max_workers), *extra],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=log_path.open("w"), stderr=subprocess.STDOUT)
    dispatcher = DispatcherProcess(process, log_path)
    wait_until("the dispatcher to find the endpoint",
               lambda: "endpoint " in dispatcher.logs() or process.poll() is not None)
    assert process.poll() is None, dispatcher.logs()
    return dispatcher


def sessions_in(worker_logs: str) -> tuple[set[str], set[str]]:
    """Session ids the worker (not its consumer) logged as reserved, and as ended."""
    reserved, ended = set(), set()
    for line in worker_logs.splitlines():
        words = line.split()
        if len(words) < 4 or words[2] != "worker":
            continue
        for event, bucket in (("reserved:", reserved), ("released:", ended),
                              ("expired:", ended)):
            if event in words and "session" in words:
                position = words.index("session")
                if position > words.index(event):
                    bucket.add(words[position + 1].rstrip(","))
    return reserved, ended
