"""The bench's figures: summaries of samples, the goals they are held to, the printed table
and the JSON file. Pure functions, so tests/unit/test_bench_report.py can check them."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MB = 1_000_000
MIB = 1024 * 1024


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, q in [0, 100]."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, Any]:
    return {"n": len(values), "median": statistics.median(values), "min": min(values),
            "max": max(values), "p10": percentile(values, 10), "p90": percentile(values, 90),
            "samples": list(values)}


@dataclass(frozen=True)
class Goal:
    label: str
    path: tuple[str, ...]
    limit: float
    unit: str
    at_least: bool = False
    aim: bool = False

    def value(self, results: dict[str, Any]) -> float | None:
        node: Any = results
        for key in self.path:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    def met(self, value: float | None) -> bool:
        if value is None:
            return False
        return value >= self.limit if self.at_least else value <= self.limit

    def wanted(self) -> str:
        sign = ">=" if self.at_least else "<="
        return f"{'aim ' if self.aim else ''}{sign} {self.limit:g} {self.unit}".strip()


GOALS = (
    Goal("added to the base, unpacked", ("figures", "added_unpacked_mb"), 60, "MB"),
    Goal("cold start median", ("figures", "cold_start_median_s"), 1.5, "s"),
    Goal("cold start speed-up over stock", ("figures", "cold_start_speedup"), 10, "x",
         at_least=True),
    Goal("idle RSS, all processes", ("figures", "idle_rss_mib"), 60, "MiB"),
    Goal("reserve+release p50", ("figures", "reserve_release_p50_ms"), 3, "ms"),
    Goal("release to autoscaler median", ("figures", "release_to_autoscaler_s"), 1.2, "s"),
    Goal("release to autoscaler median", ("figures", "release_to_autoscaler_s"), 0.2, "s",
         aim=True),
)


def figures(results: dict[str, Any]) -> dict[str, float]:
    """The headline numbers the goals are held to, from the raw results."""
    found: dict[str, float] = {}
    added = _get(results, "image_size", "added", "unpacked_bytes")
    if added is not None:
        found["added_unpacked_mb"] = added / MB
    ours, stock = (_get(results, "cold_start", k, "median") for k in ("ours", "stock"))
    if ours is not None:
        found["cold_start_median_s"] = ours
        if stock is not None:
            found["cold_start_speedup"] = stock / ours
    rss = _get(results, "idle_memory", "ours", "rss_bytes")
    if rss is not None:
        found["idle_rss_mib"] = rss / MIB
    p50 = _get(results, "reserve_release", "p50_s")
    if p50 is not None:
        found["reserve_release_p50_ms"] = p50 * 1000
    latency = _get(results, "release_to_autoscaler", "latency", "median")
    if latency is not None:
        found["release_to_autoscaler_s"] = latency
    return found


def check_goals(results: dict[str, Any], goals: Sequence[Goal] = GOALS) -> list[dict[str, Any]]:
    checked = []
    for goal in goals:
        value = goal.value(results)
        checked.append({"goal": goal.label, "wanted": goal.wanted(), "value": value,
                        "unit": goal.unit, "aim": goal.aim, "met": goal.met(value)})
    return checked


def verdict(check: dict[str, Any]) -> str:
    if check["value"] is None:
        return "FAIL (not measured)"
    return "PASS" if check["met"] else "FAIL"


def spread(summary_: dict[str, Any] | None, unit: str = "s", scale: float = 1.0) -> str:
    """`0.91 s (0.85-1.02, n=7)`: the median, then min-max over the runs."""
    if not summary_:
        return "-"
    low, mid, high = (summary_[key] * scale for key in ("min", "median", "max"))
    return f"{mid:.3g} {unit} ({low:.3g}-{high:.3g}, n={summary_['n']})"


def size(nbytes: float | None, unit: float = MB, name: str = "MB") -> str:
    return "-" if nbytes is None else f"{nbytes / unit:.1f} {name}"


def rows(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(measure, ours, stock) rows of the side-by-side table."""
    sizes = results.get("image_size", {})
    boot = results.get("cold_start", {})
    memory = results.get("idle_memory", {})
    cycles = results.get("reserve_release", {})
    release = results.get("release_to_autoscaler", {})
    ours_mem, stock_mem = memory.get("ours", {}), memory.get("stock", {})
    base = sizes.get("base", {})
    return [
        ("base image, unpacked / gzip",
         f"{size(base.get('unpacked_bytes'))} / {size(base.get('gzip_bytes'))}", "same base"),
        ("added to the base, unpacked",
         size(_get(sizes, "added", "unpacked_bytes")),
         f"0 in the image; {size(sizes.get('stock_written_at_boot_bytes'))} written at every boot"),
        ("added to the base, docker save | gzip", size(_get(sizes, "added", "gzip_bytes")),
         "0 (pip downloads at boot)"),
        ("cold start, USE_SSL=false: median (min-max)", spread(boot.get("ours")),
         spread(boot.get("stock"))),
        ("cold start speed-up over stock",
         _times(_get(results, "figures", "cold_start_speedup")), "1x"),
        ("cold start, USE_SSL=true: median (min-max)", spread(boot.get("ours_ssl")), "-"),
        ("idle RSS, all processes", _rss(ours_mem), _rss(stock_mem)),
        ("idle RSS by process", _by_process(ours_mem), _by_process(stock_mem)),
        ("reserve+release p50 / p99",
         _pair_ms(cycles.get("p50_s"), cycles.get("p99_s")), "- (no /release route)"),
        ("reserve+release throughput", _rate(cycles), "-"),
        ("release to autoscaler: median (min-max)",
         spread(release.get("latency"), "ms", 1000), "-"),
    ]


def title(meta: dict[str, Any]) -> str:
    if not meta.get("image"):
        return "null-worker bench"
    load = meta.get("load_average", {})
    loads = ", ".join(f"{load[k]:.1f} at {k}" for k in ("start", "end") if k in load)
    return (f"null-worker bench: {meta['image']} on {meta['base']}, {meta.get('cpus')} CPUs"
            + (f", load average {loads}" if loads else ""))


def format_table(results: dict[str, Any]) -> str:
    header = ("measure", "null-worker", "stock PyWorker")
    lines = [title(results.get("meta", {})), "", *_columns([header, *rows(results)])]
    checks = check_goals(results)
    goal_lines = _columns([("goal", "wanted", "measured", "result"),
                           *((c["goal"], c["wanted"], _measured(c), verdict(c)) for c in checks)])
    return "\n".join([*lines, "", *goal_lines])


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**results, "goals": check_goals(results)}, indent=2) + "\n")


def _columns(table: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in table]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


def _get(tree: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        tree = tree.get(key, {}) if isinstance(tree, dict) else {}
    return tree if tree != {} else None


def _measured(check: dict[str, Any]) -> str:
    value = check["value"]
    return "-" if value is None else f"{value:.3g} {check['unit']}"


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def _rss(memory: dict[str, Any]) -> str:
    if not memory:
        return "-"
    count = len(memory["processes"])
    return f"{memory['rss_bytes'] / MIB:.1f} MiB in {count} process{'es' if count != 1 else ''}"


def _by_process(memory: dict[str, Any]) -> str:
    if not memory:
        return "-"
    return ", ".join(f"{p['name']} {p['rss_bytes'] / MIB:.1f} MiB" for p in memory["processes"])


def _pair_ms(p50: float | None, p99: float | None) -> str:
    if p50 is None or p99 is None:
        return "-"
    return f"{p50 * 1000:.2f} / {p99 * 1000:.2f} ms"


def _rate(cycles: dict[str, Any]) -> str:
    if not cycles:
        return "-"
    return f"{cycles['per_second']:.0f} cycles/s over {cycles['n']}"
