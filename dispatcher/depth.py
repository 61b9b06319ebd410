"""How much work the queue holds: entries not yet delivered to the group plus entries pending
(delivered, not yet acknowledged: running, or left by a consumer that died)."""

from __future__ import annotations

from dataclasses import dataclass

import redis
import redis.asyncio as aredis


class GroupMissing(RuntimeError):
    """The stream or its consumer group is gone (deleted after the dispatcher started)."""


@dataclass(frozen=True)
class Depth:
    waiting: int
    running: int

    @property
    def total(self) -> int:
        return self.waiting + self.running


async def ensure_group(client: aredis.Redis, stream: str, group: str) -> bool:
    """Create the stream and its group, reading from the first entry; False if it existed."""
    try:
        await client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" in str(error):
            return False
        raise
    return True


async def read_depth(client: aredis.Redis, stream: str, group: str, cap: int) -> Depth:
    """The group's depth. `waiting` is exact up to `cap` when Redis cannot give the lag."""
    try:
        groups = await client.xinfo_groups(stream)
    except redis.ResponseError as error:
        if "no such key" in str(error).lower():
            raise GroupMissing(f"stream {stream!r} does not exist") from None
        raise
    info = next((g for g in groups if g["name"] == group), None)
    if info is None:
        raise GroupMissing(f"stream {stream!r} has no group {group!r}")
    # XINFO GROUPS' pending is the size of the group's pending list, as XPENDING counts it.
    running = int(info["pending"])
    lag = info.get("lag")
    if lag is not None:
        return Depth(waiting=int(lag), running=running)
    # Redis leaves lag unknown after some deletions; count past the last delivered entry.
    after = await client.xrange(stream, min=f"({info['last-delivered-id']}", max="+",
                                count=max(cap, 1))
    return Depth(waiting=len(after), running=running)
