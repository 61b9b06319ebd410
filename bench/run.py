"""`make bench`: measure the image beside the stock way of running a PyWorker, print a table
and write bench/results/latest.json.

    .venv/bin/python -m bench.run [--runs 7] [--stock-runs 3] [--cycles 1000] ...

Everything runs on a Docker network the bench creates and removes, with the emulator of
Vast's control plane standing in for the autoscaler; ports are published on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import docker

from bench import boot, reservations
from bench.memory import container_memory
from bench.report import figures, format_table, write_json
from bench.rig import BenchError, Rig, engine, open_rig
from bench.sizes import image_sizes

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
OURS_ID, OURS_SSL_ID, STOCK_ID, CYCLES_ID = 1000, 2000, 3000, 1


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--image", default=os.environ.get("IMAGE", "null-worker:dev"))
    parser.add_argument("--base", default=os.environ.get("BASE_IMAGE", "null-worker-base:bookworm"))
    parser.add_argument("--emulator-image",
                        default=os.environ.get("EMULATOR_IMAGE", "null-worker-emulator:dev"))
    parser.add_argument("--runs", type=int, default=7, help="cold starts, USE_SSL=false")
    parser.add_argument("--ssl-runs", type=int, default=3, help="cold starts, USE_SSL=true")
    parser.add_argument("--stock-runs", type=int, default=3, help="cold starts of the stock path")
    parser.add_argument("--cycles", type=int, default=1000, help="reserve+release cycles")
    parser.add_argument("--paced", type=int, default=25,
                        help="paced cycles timed from /release to the autoscaler")
    parser.add_argument("--pause", type=float, default=0.25, help="seconds between paced cycles")
    parser.add_argument("--idle", type=float, default=5.0,
                        help="seconds a ready worker idles before its memory is read")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def meta(client: docker.DockerClient, args: argparse.Namespace) -> dict[str, Any]:
    version = client.version()
    return {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "image": args.image,
            "image_id": client.images.get(args.image).id, "base": args.base,
            "base_id": client.images.get(args.base).id, "docker": version.get("Version"),
            "kernel": platform.release(), "cpus": os.cpu_count(),
            "load_average": {"start": os.getloadavg()[0]},
            "cold_start_env": "USE_SSL=false unless stated; no CONSUMER_CMD",
            "stock_path": "base image + bench/stock/boot.sh: venv, pip install --no-cache-dir "
                          "vastai==1.9.1 (all declared dependencies), bench/stock/worker.py"}


def cold_starts(rig: Rig, args: argparse.Namespace, results: dict[str, Any]) -> None:
    starts = results.setdefault("cold_start", {})
    say(f"cold start of {args.image}, USE_SSL=false, {args.runs} runs")
    starts["ours"] = boot.ours(rig, args.image, args.runs, False, OURS_ID, say)
    if args.ssl_runs:
        say(f"cold start of {args.image}, USE_SSL=true, {args.ssl_runs} runs")
        starts["ours_ssl"] = boot.ours(rig, args.image, args.ssl_runs, True, OURS_SSL_ID, say)
    say(f"cold start of the stock path (pip install at boot), {args.stock_runs} runs")
    starts["stock"], extra = boot.stock(rig, args.base, args.stock_runs, STOCK_ID, args.idle, say)
    results.setdefault("idle_memory", {})["stock"] = extra["memory"]
    results["image_size"]["stock_written_at_boot_bytes"] = extra["written_at_boot_bytes"]


def idle_and_cycles(rig: Rig, args: argparse.Namespace, results: dict[str, Any]) -> None:
    container, _ = rig.run(args.image, CYCLES_ID)
    rig.wait_loaded(container, CYCLES_ID, boot.OURS_TIMEOUT)
    say(f"worker ready; idle {args.idle:g} s, then its memory")
    time.sleep(args.idle)
    results.setdefault("idle_memory", {})["ours"] = container_memory(container)
    say(f"{args.cycles} reserve+release cycles, then {args.paced} paced ones")
    cycles, release = reservations.measure(rig, container, args.cycles, args.paced, args.pause)
    results["reserve_release"] = cycles
    results["release_to_autoscaler"] = release


def measure(args: argparse.Namespace, results: dict[str, Any]) -> None:
    client = engine()
    results["meta"] = meta(client, args)
    say(f"image sizes of {args.image} and {args.base} (docker save | gzip)")
    results["image_size"] = image_sizes(client, args.image, args.base)
    rig = open_rig(args.emulator_image)
    try:
        cold_starts(rig, args, results)
        idle_and_cycles(rig, args, results)
    finally:
        rig.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, Any] = {}
    began = time.monotonic()
    failure = None
    try:
        measure(args, results)
    except (BenchError, docker.errors.DockerException) as error:
        failure = str(error)
        results["error"] = failure
    results["meta"] = {**results.get("meta", {}), "bench_seconds": time.monotonic() - began}
    results["meta"].setdefault("load_average", {})["end"] = os.getloadavg()[0]
    results["figures"] = figures(results)
    print(format_table(results))
    write_json(results, args.out)
    say(f"wrote {args.out}")
    if failure:
        say(f"stopped early: {failure}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
