"""The bench's report: summaries, goal checks, the printed table and the JSON file.

No timing is asserted here; the speed goals are checked by `make bench`, not by tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.report import (
    GOALS,
    MB,
    MIB,
    Goal,
    check_goals,
    figures,
    format_table,
    percentile,
    summary,
    verdict,
    write_json,
)


def measured(**overrides: Any) -> dict[str, Any]:
    """Results shaped as bench/run.py writes them, with every goal met."""
    results: dict[str, Any] = {
        "meta": {"image": "null-worker:dev", "base": "base:test", "cpus": 2,
                 "load_average": {"start": 0.5, "end": 0.7}},
        "image_size": {
            "base": {"unpacked_bytes": 125 * MB, "gzip_bytes": 48 * MB},
            "image": {"unpacked_bytes": 165 * MB, "gzip_bytes": 61 * MB},
            "added": {"unpacked_bytes": 40 * MB, "gzip_bytes": 13 * MB},
            "stock_written_at_boot_bytes": 187 * MB,
        },
        "cold_start": {"ours": summary([0.8, 0.7, 0.9, 0.75, 0.85]),
                       "stock": summary([15.0, 16.0, 14.0])},
        "idle_memory": {"ours": {"processes": [{"name": "worker", "rss_bytes": 50 * MIB}],
                                 "rss_bytes": 50 * MIB}},
        "reserve_release": {"n": 1000, "p50_s": 0.0025, "p99_s": 0.009, "per_second": 320.0},
        "release_to_autoscaler": {"latency": summary([0.004] * 20)},
    }
    results.update(overrides)
    results["figures"] = figures(results)
    return results


def goal_line(lines: list[str], label: str) -> str:
    return next(line for line in lines if line.startswith(label) and ("<=" in line or ">=" in line))


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(10, 0, -1)]
    assert percentile(values, 50) == 5
    assert percentile(values, 90) == 9
    assert percentile(values, 99) == 10
    assert percentile(values, 0) == 1
    with pytest.raises(ValueError):
        percentile([], 50)


def test_summary_keeps_the_samples_and_their_spread() -> None:
    result = summary([3.0, 1.0, 2.0])
    assert (result["n"], result["median"], result["min"], result["max"]) == (3, 2.0, 1.0, 3.0)
    assert result["samples"] == [3.0, 1.0, 2.0]


def test_figures_are_the_numbers_the_goals_read() -> None:
    found = measured()["figures"]
    assert found["added_unpacked_mb"] == pytest.approx(40)
    assert found["cold_start_median_s"] == pytest.approx(0.8)
    assert found["cold_start_speedup"] == pytest.approx(15 / 0.8)
    assert found["idle_rss_mib"] == pytest.approx(50)
    assert found["reserve_release_p50_ms"] == pytest.approx(2.5)
    assert found["release_to_autoscaler_s"] == pytest.approx(0.004)


def test_every_goal_passes_when_every_figure_is_within_it() -> None:
    assert all(check["met"] for check in check_goals(measured()))


@pytest.mark.parametrize(("path", "value"), [
    (("figures", "added_unpacked_mb"), 61.0),
    (("figures", "cold_start_median_s"), 1.6),
    (("figures", "cold_start_speedup"), 9.9),
    (("figures", "idle_rss_mib"), 60.5),
    (("figures", "reserve_release_p50_ms"), 3.1),
    (("figures", "release_to_autoscaler_s"), 1.3),
])
def test_a_figure_past_its_limit_fails_its_goal(path: tuple[str, ...], value: float) -> None:
    results = measured()
    results["figures"][path[1]] = value
    failed = {check["goal"] for check in check_goals(results) if not check["met"]}
    assert failed == {goal.label for goal in GOALS if goal.path == path}


def test_a_limit_itself_passes_and_the_direction_is_respected() -> None:
    at_most = Goal("size", ("x",), 60, "MB")
    at_least = Goal("speed-up", ("x",), 10, "x", at_least=True)
    assert at_most.met(60) and not at_most.met(60.01)
    assert at_least.met(10) and not at_least.met(9.99)
    assert at_most.wanted() == "<= 60 MB"
    assert at_least.wanted() == ">= 10 x"
    assert Goal("latency", ("x",), 0.2, "s", aim=True).wanted() == "aim <= 0.2 s"


def test_a_goal_with_no_figure_fails_and_says_so() -> None:
    checks = check_goals({"figures": {}})
    assert not any(check["met"] for check in checks)
    assert {verdict(check) for check in checks} == {"FAIL (not measured)"}


def test_the_table_puts_ours_beside_stock_and_marks_each_goal() -> None:
    results = measured(cold_start={"ours": summary([2.5, 2.6, 2.4]),
                                   "stock": summary([15.0, 16.0, 14.0])})
    results["figures"] = figures(results)
    table = format_table(results)
    lines = table.splitlines()
    assert lines[0].startswith("null-worker bench: null-worker:dev on base:test, 2 CPUs")
    assert "2.5 s (2.4-2.6, n=3)" in table
    assert "15 s (14-16, n=3)" in table
    assert "40.0 MB" in table and "187.0 MB written at every boot" in table
    assert "6.0x" in table
    assert goal_line(lines, "cold start median").split()[-1] == "FAIL"
    assert goal_line(lines, "cold start speed-up").split()[-1] == "FAIL"
    size = goal_line(lines, "added to the base, unpacked")
    assert "40 MB" in size and size.split()[-1] == "PASS"
    assert goal_line(lines, "idle RSS, all processes").split()[-1] == "PASS"


def test_the_table_is_aligned_in_columns() -> None:
    lines = format_table(measured()).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("measure"))
    rule = lines[header + 1]
    starts = [i for i, char in enumerate(rule) if char == "-" and (i == 0 or rule[i - 1] == " ")]
    assert len(starts) == 3
    for line in lines[header + 2: header + 6]:
        assert line[starts[1] - 2: starts[1]] == "  "


def test_the_table_survives_a_run_that_stopped_early() -> None:
    table = format_table({"figures": {}})
    assert table.startswith("null-worker bench")
    assert "FAIL (not measured)" in table


def test_the_json_holds_the_results_and_the_checked_goals(tmp_path: Path) -> None:
    path = tmp_path / "results" / "latest.json"
    write_json(measured(), path)
    written = json.loads(path.read_text())
    assert written["image_size"]["added"]["unpacked_bytes"] == 40 * MB
    assert [goal["goal"] for goal in written["goals"]] == [goal.label for goal in GOALS]
    assert all(goal["met"] for goal in written["goals"])
