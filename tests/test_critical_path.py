"""The floor the downtime benchmark measures against: a pure schedule of operations under ARM's budgets."""

from __future__ import annotations

import pytest

from bench.critical_path import Budget, Op, schedule


def test_a_chain_takes_the_sum_of_its_durations() -> None:
    ops = [Op("endpoint", 55, "w"), Op("deployment", 425, "w", ("endpoint",)), Op("traffic", 70, "w", ("deployment",))]
    assert schedule(ops, {"w": Budget(200, 10)}).finish == pytest.approx(550)


def test_the_budget_spaces_requests_after_the_burst() -> None:
    ops = [Op(f"grant-{i}", 0, "w") for i in range(300)]
    assert schedule(ops, {"w": Budget(200, 10)}).finish == pytest.approx(10.0)  # 100 after the burst, at 10 a second


def test_the_longest_chain_goes_first_when_the_budget_binds() -> None:
    """201 quick writes and one long operation on a burst of 200: sending the long one last would add 0.1 s to the
    whole; longest tail first sends it at once."""
    ops = [Op(f"grant-{i}", 0, "w") for i in range(201)] + [Op("instance", 390, "w")]
    result = schedule(ops, {"w": Budget(200, 10)})
    assert result.sent_at["instance"] == 0.0
    assert result.finish == pytest.approx(390)


def test_buckets_are_separate_and_a_cycle_is_refused() -> None:
    ops = [Op("delete", 45, "source.deletes"), Op("create", 30, "target.writes", ("delete",))]
    assert schedule(ops, {"source.deletes": Budget(1, 1), "target.writes": Budget(1, 1)}).finish == pytest.approx(75)
    with pytest.raises(ValueError, match="cycle"):
        schedule([Op("a", 1, "w", ("b",)), Op("b", 1, "w", ("a",))], {"w": Budget(1, 1)})
