"""How big the image is, unpacked and as `docker save | gzip`, and what it adds to its base."""

from __future__ import annotations

import subprocess
import zlib
from typing import Any

import docker

GZIP_LEVEL = 6  # gzip's default, and what `docker push` uses for layers
CHUNK = 1 << 20


def gzip_bytes(client: docker.DockerClient, tag: str) -> int:
    """Bytes of `docker save TAG | gzip`, streamed: nothing is written to disk."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    total = 0
    for chunk in client.images.get(tag).save(chunk_size=CHUNK):
        total += len(compressor.compress(chunk))
    return total + len(compressor.flush())


def added_layers(client: docker.DockerClient, tag: str, base: str) -> list[dict[str, Any]]:
    """The build steps of TAG on top of BASE with their unpacked size, largest first."""
    base_steps = len(client.images.get(base).history())
    steps = client.images.get(tag).history()
    added = steps[: len(steps) - base_steps]
    return sorted(({"size_bytes": step["Size"], "step": _short(step["CreatedBy"])}
                   for step in added if step["Size"]),
                  key=lambda layer: -layer["size_bytes"])


def image_sizes(client: docker.DockerClient, tag: str, base: str) -> dict[str, Any]:
    sizes = {}
    for role, name in (("base", base), ("image", tag)):
        sizes[role] = {"tag": name,
                       "unpacked_bytes": client.images.get(name).attrs["Size"],
                       "gzip_bytes": gzip_bytes(client, name)}
    sizes["added"] = {key: sizes["image"][key] - sizes["base"][key]
                      for key in ("unpacked_bytes", "gzip_bytes")}
    sizes["added_layers"] = added_layers(client, tag, base)
    return sizes


def container_written_bytes(name: str) -> int:
    """What a running container has written on top of its image (`docker ps --size`)."""
    out = subprocess.run(["docker", "container", "inspect", "--size", "--format",
                          "{{.SizeRw}}", name], check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


def _short(created_by: str, width: int = 90) -> str:
    text = " ".join(created_by.replace("/bin/sh -c #(nop) ", "").split())
    return text if len(text) <= width else text[: width - 3] + "..."
