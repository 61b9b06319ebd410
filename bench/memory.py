"""Resident memory of every process in a container, read from /proc on the engine's host.

The processes are listed by `docker top`, so nothing is started inside the container to
measure it. RSS counts shared library pages in every process that maps them; RssAnon is
each process's own heap and stacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docker.models.containers import Container

KIB = 1024
FIELDS = ("VmRSS", "RssAnon", "RssFile")


def status_fields(text: str) -> dict[str, Any]:
    """Name and the RSS fields (in bytes) of one /proc/<pid>/status."""
    found: dict[str, Any] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "Name":
            found["name"] = value.strip()
        elif key in FIELDS:
            found[key] = int(value.split()[0]) * KIB
    return found


def label(name: str, command: str) -> str:
    """What a person would call the process: `worker` for `python -m worker`."""
    words = command.split()
    if not name.startswith("python") or len(words) < 2:
        return name
    if words[1] == "-m" and len(words) > 2:
        return words[2]
    return Path(words[1]).name


def process_memory(pid: int, proc: Path = Path("/proc")) -> dict[str, Any]:
    fields = status_fields((proc / str(pid) / "status").read_text())
    command = (proc / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    name = fields.get("name", "?")
    return {"pid": pid, "name": label(name, command), "command": command,
            "rss_bytes": fields.get("VmRSS", 0), "rss_anon_bytes": fields.get("RssAnon", 0),
            "rss_file_bytes": fields.get("RssFile", 0)}


def container_memory(container: Container) -> dict[str, Any]:
    top = container.top()
    column = top["Titles"].index("PID")
    processes = [process_memory(int(row[column])) for row in top["Processes"]]
    return {"processes": processes,
            "rss_bytes": sum(p["rss_bytes"] for p in processes),
            "rss_anon_bytes": sum(p["rss_anon_bytes"] for p in processes)}
