"""The consumer's queue operations against a real redis-server: claim, keep, reclaim, finish."""

from __future__ import annotations

import time

import pytest
from redis_consumer.jobs import JobQueue, StreamMissing

from tests.queue.rig import GROUP, STREAM, RedisServer, produce, stats

VISIBILITY = 0.6


def queue_for(server: RedisServer, consumer: str) -> JobQueue:
    return JobQueue(server.client, STREAM, GROUP, consumer, VISIBILITY, done_ttl_seconds=60)


def test_missing_stream_is_reported_not_created(redis_server: RedisServer) -> None:
    with pytest.raises(StreamMissing, match="stream 'jobs' does not exist"):
        queue_for(redis_server, "a").ensure_group()
    assert not redis_server.client.exists(STREAM)


def test_group_made_by_a_consumer_reads_jobs_added_before_it(redis_server: RedisServer) -> None:
    produce(redis_server.client, 2, seconds=0)
    first = queue_for(redis_server, "a")
    assert first.ensure_group() is True
    assert queue_for(redis_server, "b").ensure_group() is False
    job = first.read_new(block_seconds=0.1)
    assert job is not None
    assert (job.id, job.deliveries, job.consumer) == ("job-000", 1, "a")
    assert job.fields["seconds"] == "0"


def test_an_idle_job_is_reclaimed_only_after_the_visibility_timeout(
        redis_server: RedisServer) -> None:
    produce(redis_server.client, 1, seconds=0)
    dead, alive = queue_for(redis_server, "dead"), queue_for(redis_server, "alive")
    dead.ensure_group()
    job = dead.read_new(block_seconds=0.1)
    assert job is not None
    assert alive.reclaim() is None
    time.sleep(VISIBILITY + 0.2)
    reclaimed = alive.reclaim()
    assert reclaimed is not None
    assert (reclaimed.id, reclaimed.entry_id, reclaimed.deliveries) == (job.id, job.entry_id, 2)
    assert reclaimed.consumer == "alive"


def test_heartbeat_keeps_a_running_job_from_being_reclaimed(redis_server: RedisServer) -> None:
    produce(redis_server.client, 1, seconds=0)
    worker, other = queue_for(redis_server, "worker"), queue_for(redis_server, "other")
    worker.ensure_group()
    job = worker.read_new(block_seconds=0.1)
    assert job is not None
    for _ in range(4):
        time.sleep(VISIBILITY / 2)
        assert worker.keep(job) == 1
        assert other.reclaim() is None

    time.sleep(VISIBILITY + 0.2)
    assert other.reclaim() is not None
    assert worker.keep(job) == "other"
    assert other.finish(job) is True
    assert worker.keep(job) == 0


def test_a_second_completion_is_a_counted_duplicate(redis_server: RedisServer) -> None:
    produce(redis_server.client, 1, seconds=0)
    first, second = queue_for(redis_server, "first"), queue_for(redis_server, "second")
    first.ensure_group()
    job = first.read_new(block_seconds=0.1)
    assert job is not None
    time.sleep(VISIBILITY + 0.2)
    again = second.reclaim()
    assert again is not None

    assert first.is_done(job) is False
    assert second.finish(again) is True
    assert first.is_done(job) is True
    assert first.finish(job) is False
    assert stats(redis_server.client) == {"done": 1, "duplicate_runs": 1}
    assert redis_server.client.xpending(STREAM, GROUP)["pending"] == 0


def test_dead_letter_moves_the_job_and_acknowledges_it(redis_server: RedisServer) -> None:
    produce(redis_server.client, 1, seconds=0)
    queue = queue_for(redis_server, "a")
    queue.ensure_group()
    job = queue.read_new(block_seconds=0.1)
    assert job is not None
    queue.dead_letter(job, "failed too often")
    [(_, fields)] = redis_server.client.xrange(f"{STREAM}:dead")
    assert fields["job_id"] == job.id
    assert fields["reason"] == "failed too often"
    assert redis_server.client.xpending(STREAM, GROUP)["pending"] == 0
