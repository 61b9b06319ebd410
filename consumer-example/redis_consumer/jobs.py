"""The job queue: a Redis stream read through a consumer group, one entry at a time.

An entry read by a consumer stays in the group's pending list until it is acknowledged. While
the consumer works, it keeps the entry fresh (a heartbeat); an entry left idle longer than the
visibility timeout belongs to a consumer that died, and the next consumer to look reclaims it.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

# Reset the entry's idle time if, and only if, this consumer still owns it. Returns 1 when it
# does, 0 when the entry is no longer pending (acknowledged by someone), else the owner's name.
_KEEP = """
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #pending == 0 then return 0 end
if pending[1][2] ~= ARGV[3] then return pending[1][2] end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
"""

# Mark the job done (unless it already was), acknowledge the entry, count the outcome: 1 for
# the first completion of this job, 0 for a duplicate run.
_FINISH = """
local first = redis.call('SET', KEYS[2], ARGV[3], 'NX', 'EX', ARGV[4])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if first then
  redis.call('HINCRBY', KEYS[3], 'done', 1)
  return 1
end
redis.call('HINCRBY', KEYS[3], 'duplicate_runs', 1)
return 0
"""


class StreamMissing(RuntimeError):
    """The stream does not exist: usually a wrong QUEUE_STREAM or REDIS_URL database."""


@dataclass(frozen=True)
class Job:
    """One queue entry as the work function sees it."""

    id: str
    entry_id: str
    fields: dict[str, str]
    deliveries: int
    consumer: str


class JobQueue:
    # Keys derived from the stream's name (`<stream>:<group>:done:<job>`, `<stream>:<group>:stats`,
    # `<stream>:dead`) are used together in scripts. On Redis Cluster they must share a hash
    # slot: name the stream with a hash tag, e.g. {jobs}.

    def __init__(self, client: redis.Redis, stream: str, group: str, consumer: str,
                 visibility_seconds: float, done_ttl_seconds: int) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.visibility_ms = int(visibility_seconds * 1000)
        self.done_ttl_seconds = done_ttl_seconds
        self.stats_key = f"{stream}:{group}:stats"
        self.dead_stream = f"{stream}:dead"
        self._keep = client.register_script(_KEEP)
        self._finish = client.register_script(_FINISH)

    def ensure_group(self) -> bool:
        """Make sure the group exists; True if this call created it (from the first entry)."""
        try:
            groups = self.client.xinfo_groups(self.stream)
        except redis.ResponseError as error:
            if "no such key" in str(error).lower():
                raise StreamMissing(f"stream {self.stream!r} does not exist") from None
            raise
        if any(group["name"] == self.group for group in groups):
            return False
        try:
            self.client.xgroup_create(self.stream, self.group, id="0")
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
            return False
        return True

    def reclaim(self) -> Job | None:
        """Take over one entry that another consumer left idle past the visibility timeout."""
        cursor = "0-0"
        while True:
            reply = self.client.xautoclaim(self.stream, self.group, self.consumer,
                                           self.visibility_ms, cursor, count=1)
            cursor, entries = reply[0], reply[1]
            for entry_id, fields in entries:
                if fields:
                    return self._job(entry_id, fields, self._deliveries(entry_id))
            if cursor == "0-0":
                return None

    def read_new(self, block_seconds: float) -> Job | None:
        """One entry never delivered to the group, waiting up to `block_seconds` for it."""
        reply = self.client.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=1,
                                       block=max(1, int(block_seconds * 1000)))
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                return self._job(entry_id, fields, 1)
        return None

    def is_done(self, job: Job) -> bool:
        return bool(self.client.exists(self._done_key(job.id)))

    def keep(self, job: Job) -> int | str:
        """Heartbeat: 1 while this consumer owns the entry, 0 once it is acknowledged,
        else the name of the consumer that reclaimed it."""
        result = self._keep(keys=[self.stream], args=[self.group, job.entry_id, self.consumer])
        return result if isinstance(result, str) else int(result)

    def finish(self, job: Job) -> bool:
        """Record the job as done and acknowledge it, atomically. False if it was already done:
        a duplicate run, which at-least-once delivery allows and this counts."""
        first = self._finish(
            keys=[self.stream, self._done_key(job.id), self.stats_key],
            args=[self.group, job.entry_id, self.consumer, self.done_ttl_seconds])
        return bool(first)

    def skip_duplicate(self, job: Job) -> None:
        """Acknowledge a redelivered entry whose job is already done, without running it."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, self.group, job.entry_id)
            pipe.hincrby(self.stats_key, "duplicate_deliveries", 1)
            pipe.execute()

    def dead_letter(self, job: Job, reason: str) -> None:
        """Move a job that failed too often to `<stream>:dead` and acknowledge it."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.xadd(self.dead_stream, {**job.fields, "job_id": job.id,
                                         "entry_id": job.entry_id,
                                         "deliveries": str(job.deliveries), "reason": reason})
            pipe.xack(self.stream, self.group, job.entry_id)
            pipe.hincrby(self.stats_key, "dead", 1)
            pipe.execute()

    def count(self, event: str) -> None:
        self.client.hincrby(self.stats_key, event, 1)

    def _deliveries(self, entry_id: str) -> int:
        pending = self.client.xpending_range(self.stream, self.group, entry_id, entry_id, 1)
        return int(pending[0]["times_delivered"]) if pending else 1

    def _job(self, entry_id: str, fields: dict[str, str], deliveries: int) -> Job:
        return Job(id=fields.get("job_id") or entry_id, entry_id=entry_id, fields=dict(fields),
                   deliveries=deliveries, consumer=self.consumer)

    def _done_key(self, job_id: str) -> str:
        return f"{self.stream}:{self.group}:done:{job_id}"
