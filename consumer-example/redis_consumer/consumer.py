"""The consumer's loop: wait for a reservation, claim one job, work, acknowledge, release."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

import redis

from redis_consumer.config import Settings
from redis_consumer.control import Control, ControlUnavailable
from redis_consumer.jobs import Job, JobQueue, StreamMissing

log = logging.getLogger("redis_consumer")

RESERVATION_WAIT_SECONDS = 30.0
BLOCK_SECONDS = 2.0
RETRY_SECONDS = 1.0
CONTROL_STARTUP_SECONDS = 15.0
Work = Callable[[Job], None]


class Stop(Exception):
    """A stop signal arrived while no job was running."""


class Consumer:
    def __init__(self, settings: Settings, queue: JobQueue, control: Control, work: Work) -> None:
        self.settings = settings
        self.queue = queue
        self.control = control
        self.work = work
        self.tick_seconds = min(settings.visibility_seconds / 3, 5.0)
        self.stopping_at: float | None = None
        self._interruptible = False
        self._group_ready = False
        self._control_down_since: float | None = None
        self._problems: dict[str, str] = {}

    @property
    def stopping(self) -> bool:
        return self.stopping_at is not None

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGINT: stop at once when idle; with a job, finish it first (see run_job)."""
        if self.stopping_at is None:
            self.stopping_at = time.monotonic()
            log.info("stopping: %s received", signal.Signals(signum).name)
        if self._interruptible:
            self._interruptible = False
            raise Stop

    def run(self) -> int:
        s = self.settings
        log.info("consumer %s: stream %s, group %s on %s; visibility %gs, idle grace %gs",
                 s.consumer, s.stream, s.group, s.redis_shown, s.visibility_seconds,
                 s.idle_grace_seconds)
        self._prepare_group()
        try:
            while not self.stopping:
                reservation = self._wait_for_reservation()
                if reservation is not None:
                    self._serve(reservation)
        except Stop:
            pass
        finally:
            self._release_on_exit()
        log.info("stopped")
        return 0

    def _wait_for_reservation(self) -> str | None:
        self._interruptible = True
        try:
            if self.stopping:
                raise Stop
            try:
                if self._control_down_since is not None:
                    self.control.current()  # answers at once, unlike the wait below
                    self._control_down_since = None
                    self._resolved("control", "control server answers again")
                return self.control.wait(RESERVATION_WAIT_SECONDS)
            except ControlUnavailable as error:
                now = time.monotonic()
                if self._control_down_since is None:
                    self._control_down_since = now
                # The worker starts beside the consumer: silence is normal for a while.
                if now - self._control_down_since >= CONTROL_STARTUP_SECONDS:
                    self._problem("control", f"{error}; retrying (is the worker running?)")
                time.sleep(RETRY_SECONDS)
                return None
        finally:
            self._interruptible = False

    def _serve(self, reservation: str) -> None:
        log.info("reserved: session %s; claiming a job", reservation)
        job = self._claim(reservation)
        if job is not None:
            self._run_job(job, reservation)

    def _claim(self, reservation: str) -> Job | None:
        """One job for this reservation, or None after the idle grace (then it is released)."""
        deadline = time.monotonic() + self.settings.idle_grace_seconds
        while not self.stopping:
            remaining = deadline - time.monotonic()
            try:
                if self.control.current() != reservation:
                    log.info("session %s ended before a job was claimed (expired or closed by "
                             "the client)", reservation)
                    return None
                job = self._next_job(block=min(BLOCK_SECONDS, max(remaining, 0.001)))
            except ControlUnavailable as error:
                self._problem("control", f"{error}; retrying")
                time.sleep(RETRY_SECONDS)
            except StreamMissing:
                self._group_ready = False
                self._problem("queue", self._missing_stream_message())
                time.sleep(min(RETRY_SECONDS, max(remaining, 0)))
            except redis.RedisError as error:
                if "NOGROUP" in str(error):
                    self._group_ready = False
                self._problem("queue", self._redis_message(error))
                time.sleep(min(RETRY_SECONDS, max(remaining, 0)))
            else:
                self._resolved("queue", "queue ready again")
                if job is not None:
                    return job
            if time.monotonic() >= deadline:
                log.info("no job within %gs while reserved: releasing session %s",
                         self.settings.idle_grace_seconds, reservation)
                self._release_own(reservation)
                return None
        return None

    def _next_job(self, block: float) -> Job | None:
        if not self._group_ready:
            if self.queue.ensure_group():
                log.info("created group %s on stream %s, from its first entry",
                         self.settings.group, self.settings.stream)
            self._group_ready = True
        job = self.queue.reclaim() or self.queue.read_new(block)
        return None if job is None else self._vet(job)

    def _vet(self, job: Job) -> Job | None:
        """The job if it should run; None when it was dead-lettered or is already done."""
        if job.deliveries > self.settings.max_deliveries:
            self.queue.dead_letter(job, f"delivered {job.deliveries} times without success")
            log.warning("dead letter: job %s (entry %s) failed %d times; moved to %s",
                        job.id, job.entry_id, job.deliveries - 1, self.queue.dead_stream)
            return None
        if self.queue.is_done(job):
            self.queue.skip_duplicate(job)
            log.warning("duplicate: job %s (entry %s, delivery %d) was already done; "
                        "acknowledged without running it", job.id, job.entry_id, job.deliveries)
            return None
        if job.deliveries > 1:
            self.queue.count("reclaimed")
            log.info("reclaimed: job %s (entry %s, delivery %d), idle for over %gs",
                     job.id, job.entry_id, job.deliveries, self.settings.visibility_seconds)
        return job

    def _run_job(self, job: Job, reservation: str) -> None:
        log.info("claimed: job %s (entry %s, delivery %d) for session %s",
                 job.id, job.entry_id, job.deliveries, reservation)
        started = time.monotonic()
        error = self._work_until_done(job, reservation)
        took = time.monotonic() - started
        if error is not None:
            self.queue.count("failed")
            log.warning("failed: job %s after %.1fs: %s: %s; left pending, retried after %gs",
                        job.id, took, type(error).__name__, error,
                        self.settings.visibility_seconds)
        elif self._finish(job):
            log.info("done: job %s in %.1fs; acknowledged", job.id, took)
        else:
            log.warning("duplicate run: job %s in %.1fs was also completed elsewhere "
                        "(at-least-once delivery); acknowledged", job.id, took)
        self._release_own(reservation)

    def _work_until_done(self, job: Job, reservation: str) -> BaseException | None:
        """Run the work function in a thread, keeping the entry owned while it runs.

        On a stop signal the job may finish within CONSUMER_STOP_SECONDS; past that, the
        consumer stops and leaves it pending, never acknowledged, for another to reclaim.
        """
        outcome: list[BaseException] = []

        def target() -> None:
            try:
                self.work(job)
            except BaseException as error:
                outcome.append(error)

        thread = threading.Thread(target=target, name=f"job {job.id}", daemon=True)
        thread.start()
        warned: set[str] = set()
        next_tick = time.monotonic() + self.tick_seconds
        while thread.is_alive():
            thread.join(0.2)
            if not thread.is_alive():
                break
            if self.stopping:
                self._stop_during(job, warned)
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.tick_seconds
                self._heartbeat(job, reservation, warned)
        return outcome[0] if outcome else None

    def _stop_during(self, job: Job, warned: set[str]) -> None:
        assert self.stopping_at is not None
        allowed = self.settings.stop_seconds - min(2.0, self.settings.stop_seconds * 0.2)
        if "stop" not in warned:
            warned.add("stop")
            log.info("stopping: finishing job %s first (up to %.0fs)", job.id, allowed)
        if time.monotonic() - self.stopping_at >= allowed:
            log.warning("stopping: job %s not finished within %.0fs; left pending, not "
                        "acknowledged, for another consumer to reclaim after %gs",
                        job.id, allowed, self.settings.visibility_seconds)
            raise Stop

    def _heartbeat(self, job: Job, reservation: str, warned: set[str]) -> None:
        try:
            kept = self.queue.keep(job)
        except redis.RedisError as error:
            self._problem("queue", self._redis_message(error))
        else:
            if isinstance(kept, str) and "taken" not in warned:
                warned.add("taken")
                log.warning("job %s was reclaimed by consumer %s while it ran here (it stalled "
                            "past the visibility timeout): it will run twice", job.id, kept)
        try:
            held = self.control.current()
        except ControlUnavailable:
            return
        if held != reservation and "ended" not in warned:
            warned.add("ended")
            log.warning("session %s ended while job %s runs (expired or closed by the client): "
                        "the worker may be stopped before the job ends; hold reservations "
                        "longer than jobs take", reservation, job.id)

    def _finish(self, job: Job) -> bool:
        """Acknowledge, retrying while Redis is away: an unacknowledged job runs again."""
        while True:
            try:
                return self.queue.finish(job)
            except redis.RedisError as error:
                self._problem("queue", self._redis_message(error))
                if self.stopping:
                    raise Stop from None
                time.sleep(RETRY_SECONDS)

    def _release_own(self, reservation: str) -> None:
        # Releases only the reservation this job ran under: one that expired may already
        # have been replaced by the next job's reservation, which the worker keeps.
        try:
            released, other = self.control.release_own(reservation)
        except ControlUnavailable as error:
            self._problem("control", f"could not release session {reservation}: {error}")
            return
        if released:
            log.info("released: session %s", reservation)
        elif other is None:
            log.info("session %s had already ended (expired or closed by the client)",
                     reservation)
        else:
            log.info("session %s had ended; keeping the new session %s for the next job",
                     reservation, other)

    def _release_on_exit(self) -> None:
        try:
            released = self.control.release()
        except ControlUnavailable:
            return
        if released:
            log.info("released: session %s (consumer stopping)", released)

    def _prepare_group(self) -> None:
        try:
            self.queue.client.ping()
            if self.queue.ensure_group():
                log.info("created group %s on stream %s, from its first entry",
                         self.settings.group, self.settings.stream)
            self._group_ready = True
        except StreamMissing:
            self._problem("queue", self._missing_stream_message())
        except redis.RedisError as error:
            self._problem("queue", self._redis_message(error))

    def _missing_stream_message(self) -> str:
        s = self.settings
        return (f"stream {s.stream!r} does not exist in Redis at {s.redis_shown}: check "
                f"QUEUE_STREAM and the database in REDIS_URL, or create it: "
                f"XGROUP CREATE {s.stream} {s.group} 0 MKSTREAM (the dispatcher does)")

    def _redis_message(self, error: redis.RedisError) -> str:
        text = " ".join(str(error).split()) or type(error).__name__
        if isinstance(error, (redis.ConnectionError, redis.TimeoutError)):
            return (f"cannot reach Redis at {self.settings.redis_shown}: {text}; check "
                    "REDIS_URL and that Redis is running")
        return f"Redis at {self.settings.redis_shown} refused a command: {text}"

    def _problem(self, key: str, message: str) -> None:
        """Log a problem once, until it goes away, so a retry loop does not flood the log."""
        if self._problems.get(key) != message:
            self._problems[key] = message
            log.error("%s", message)

    def _resolved(self, key: str, message: str) -> None:
        if self._problems.pop(key, None) is not None:
            log.info("%s", message)
