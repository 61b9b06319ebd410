"""The default work function: sleeps for the job, and records each run when asked to.

A job's fields choose what it does: `seconds` (default $DEMO_WORK_SECONDS, else 1) to sleep,
`fail` (any value) to raise instead. With DEMO_LOG_KEY set, every finished run is appended
as one JSON line to that Redis list, which is how the tests count runs per job.
"""

from __future__ import annotations

import json
import os
import time
from functools import cache

import redis

from redis_consumer.jobs import Job


def work(job: Job) -> None:
    seconds = float(job.fields.get("seconds") or os.environ.get("DEMO_WORK_SECONDS") or 1)
    started = time.time()
    time.sleep(seconds)
    if "fail" in job.fields:
        raise RuntimeError(f"job {job.id} asked to fail")
    log_key = os.environ.get("DEMO_LOG_KEY")
    if log_key:
        record = {"job": job.id, "entry": job.entry_id, "consumer": job.consumer,
                  "deliveries": job.deliveries, "started": started, "finished": time.time()}
        _client().rpush(log_key, json.dumps(record))


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=5)
