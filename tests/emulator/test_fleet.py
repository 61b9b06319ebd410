import logging

import pytest
from emulator_samples import WORKER_URL, worker_status

from emulator.fleet import PENDING_ROUTE_TTL, Fleet
from emulator.messages import (
    FinishedReport,
    FinishedRequest,
    WorkerStatus,
    parse_worker_status,
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fleet(clock: Clock) -> Fleet:
    return Fleet(max_queue_time=1.0, stale_after=20.0, clock=clock)


def status(worker_id: int = 7, **changes: object) -> WorkerStatus:
    return parse_worker_status(worker_status(worker_id, **changes))


def finished(worker_id: int, *idxs: int) -> FinishedReport:
    requests = tuple(FinishedRequest(idx, success=True, status="Success") for idx in idxs)
    return FinishedReport(worker_id=worker_id, requests=requests)


def test_new_requests_get_increasing_indexes_and_wait_with_no_worker(fleet: Fleet) -> None:
    first = fleet.route(0, 100)
    second = fleet.route(0, 100)
    assert (first.request_idx, first.worker_id, first.url) == (1, None, None)
    assert second.request_idx == 2
    assert fleet.pending == {}


def test_loaded_worker_gets_the_request(fleet: Fleet, clock: Clock) -> None:
    fleet.report_status(status())
    decision = fleet.route(0, 100)
    assert (decision.worker_id, decision.url) == (7, WORKER_URL)
    pending = fleet.pending[decision.request_idx]
    assert (pending.worker_id, pending.cost, pending.at) == (7, 100, clock.now)


@pytest.mark.parametrize(
    "changes",
    [
        {"loadtime": 0.0},
        {"max_perf": 0.0},
        {"error_msg": "Healthcheck failed with status: 503"},
        {"cur_load": 100.0},
        {"cur_load": 150.0},
        {"url": ""},
    ],
    ids=["not-loaded", "no-benchmark", "errored", "full", "over-full", "no-url"],
)
def test_worker_that_cannot_take_work_is_skipped(fleet: Fleet, changes: dict) -> None:
    fleet.report_status(status(**changes))
    assert fleet.route(0, 100).worker_id is None


def test_partly_loaded_worker_still_takes_work(fleet: Fleet) -> None:
    fleet.report_status(status(cur_load=50.0))
    assert fleet.route(0, 100).worker_id == 7


def test_worker_goes_stale_after_its_last_report(fleet: Fleet, clock: Clock) -> None:
    fleet.report_status(status())
    clock.now += 20.0
    assert fleet.route(0, 1).worker_id == 7
    clock.now += PENDING_ROUTE_TTL + 1
    assert fleet.route(0, 1).worker_id is None
    fleet.report_status(status())
    assert fleet.route(0, 1).worker_id == 7


def test_one_reservation_fills_a_worker_until_it_is_released(fleet: Fleet) -> None:
    fleet.report_status(status())
    held = fleet.route(0, 100)
    assert held.worker_id == 7
    assert fleet.queue_time(7) == 1.0
    assert fleet.route(0, 100).worker_id is None

    fleet.report_status(
        status(cur_load=100.0, num_requests_working=1, working_request_idxs=[held.request_idx])
    )
    assert fleet.pending == {}
    assert fleet.queue_time(7) == 1.0
    assert fleet.route(0, 100).worker_id is None

    fleet.report_finished(finished(7, held.request_idx))
    fleet.report_status(status(cur_load=0.0))
    assert fleet.route(0, 100).worker_id == 7


def test_finished_report_clears_a_pending_route(fleet: Fleet) -> None:
    fleet.report_status(status())
    held = fleet.route(0, 100)
    fleet.report_finished(finished(7, held.request_idx))
    assert fleet.pending == {}
    assert fleet.route(0, 100).worker_id == 7


def test_pending_route_expires(fleet: Fleet, clock: Clock) -> None:
    fleet.report_status(status())
    fleet.route(0, 100)
    clock.now += PENDING_ROUTE_TTL / 2
    fleet.report_status(status())
    assert fleet.route(0, 100).worker_id is None
    clock.now += PENDING_ROUTE_TTL
    fleet.report_status(status())
    assert fleet.route(0, 100).worker_id == 7


def test_only_the_routed_worker_clears_its_pending_route(fleet: Fleet) -> None:
    fleet.report_status(status(7))
    held = fleet.route(0, 100)
    fleet.report_status(status(8, working_request_idxs=[held.request_idx]))
    fleet.report_finished(finished(8, held.request_idx))
    assert held.request_idx in fleet.pending


def test_polling_the_same_request_does_not_block_itself(fleet: Fleet) -> None:
    fleet.report_status(status())
    first = fleet.route(0, 100)
    again = fleet.route(first.request_idx, 100)
    assert (again.request_idx, again.worker_id) == (first.request_idx, 7)
    assert list(fleet.pending) == [first.request_idx]


def test_least_loaded_worker_wins_and_ties_go_to_the_lowest_id(fleet: Fleet) -> None:
    fleet.report_status(status(9, url="http://127.0.0.1:3009"))
    fleet.report_status(status(8, url="http://127.0.0.1:3008", cur_load=50.0))
    fleet.report_status(status(3, url="http://127.0.0.1:3003"))
    assert [fleet.route(0, 100).worker_id for _ in range(4)] == [3, 9, 8, None]


def test_least_loaded_is_measured_in_queue_time(fleet: Fleet) -> None:
    fleet.report_status(status(1, cur_load=40.0, max_perf=50.0))
    fleet.report_status(status(2, cur_load=60.0, max_perf=200.0))
    assert fleet.route(0, 10).worker_id == 2


def test_a_given_index_moves_the_counter_past_it(fleet: Fleet) -> None:
    assert fleet.route(41, 100).request_idx == 41
    assert fleet.route(0, 100).request_idx == 42


def test_operator_log_lines(fleet: Fleet, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="emulator")
    fleet.report_status(status(loadtime=0.0, max_perf=0.0))
    fleet.report_status(status(loadtime=0.0, max_perf=0.0))
    fleet.route(0, 100)
    fleet.route(1, 100)
    fleet.report_status(status())
    fleet.route(1, 100)
    fleet.report_status(status(cur_load=100.0, working_request_idxs=[1]))
    fleet.report_finished(finished(7, 1))
    fleet.report_status(status(error_msg="Healthcheck failed\nwith status: 503"))
    assert caplog.messages == [
        f"worker 7 first seen at {WORKER_URL}",
        "request 1 waiting: no free worker (a real autoscaler would start one)",
        f"worker 7 ready: max_perf 100 at {WORKER_URL}",
        "request 1 routed to worker 7",
        "worker 7 load 100/100",
        "worker 7 finished request 1 (Success)",
        "worker 7 load 0/100",
        "worker 7 errored: Healthcheck failed with status: 503",
    ]


def test_snapshot_is_plain_data(fleet: Fleet, clock: Clock) -> None:
    fleet.report_status(status(loadtime=0.0, max_perf=0.0))
    fleet.report_status(status())
    decision = fleet.route(0, 100)
    fleet.route(0, 100)
    snapshot = fleet.snapshot()
    [worker] = snapshot["workers"]
    assert worker["loaded"] is True and worker["errored"] is False and worker["fresh"] is True
    assert worker["status_reports"] == 2
    assert worker["last_status_at"] == clock.now
    assert snapshot["pending_routes"] == [
        {"request_idx": decision.request_idx, "worker_id": 7, "cost": 100, "at": clock.now}
    ]
    assert snapshot["routes"] == [
        {"request_idx": 1, "worker_id": 7, "at": clock.now},
        {"request_idx": 2, "worker_id": None, "at": clock.now},
    ]
