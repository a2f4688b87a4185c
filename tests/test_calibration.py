"""realmux.calibration: one disturbed sample cannot move a price (scripted samples, no kernel).

Guards issue 11 item 2: a calibration point measured once in a disturbed
moment bent the poll curve (7,500 descriptors predicted 751 us, measured 542).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from realmux.calibration import Calibration, Point, curve_faults, price_of


def test_one_disturbed_sample_high_or_low_does_not_move_a_price() -> None:
    calm = [100.0, 101.0, 102.0, 100.5]
    assert price_of(calm).seconds == pytest.approx(100.25)
    assert price_of([*calm, 300.0]).seconds == pytest.approx(100.25)  # a neighbour's burst
    assert price_of([*calm, 40.0]).seconds == pytest.approx(100.25)  # an odd low one
    assert price_of([*calm, 300.0]).agreed


def test_a_price_without_two_agreeing_samples_is_unstable() -> None:
    price = price_of([100.0, 150.0, 240.0])
    assert not price.agreed and price.seconds == 150.0
    assert price.repeats == 3 and price.spread > 0.5


def curve(points: dict[int, float]) -> dict[tuple[str, int], float]:
    return {("poll_scan", x): y for x, y in points.items()}


def test_a_bent_curve_is_a_fault_naming_the_points_around_the_bend() -> None:
    straight = curve({1000: 50e-6, 4000: 260e-6, 6000: 393e-6, 9000: 590e-6})
    assert curve_faults(straight, ["poll_scan"], {}) == []
    bent = curve({1000: 50e-6, 4000: 260e-6, 6000: 393e-6, 9000: 1170e-6})  # issue 11
    faults = curve_faults(bent, ["poll_scan"], {})
    assert len(faults) == 1 and "more than 2x apart" in faults[0].message
    assert faults[0].points == {("poll_scan", 4000), ("poll_scan", 6000), ("poll_scan", 9000)}
    falling = curve({1000: 50e-6, 4000: 40e-6})
    assert "below" in curve_faults(falling, ["poll_scan"], {})[0].message


def test_an_in_between_point_off_the_line_is_a_fault() -> None:
    prices = curve({6000: 393e-6, 9000: 590e-6}) | {("between_poll", 7500): 350e-6}
    faults = curve_faults(prices, ["poll_scan"], {"between_poll": "poll_scan"})
    assert [f.points for f in faults] == [
        {("between_poll", 7500), ("poll_scan", 6000), ("poll_scan", 9000)}]
    prices["between_poll", 7500] = 480e-6
    assert curve_faults(prices, ["poll_scan"], {"between_poll": "poll_scan"}) == []


def scripted(values: list[float]) -> Iterator[float]:
    yield from values
    while True:
        yield values[-1]


def test_settle_measures_a_disturbed_point_again_and_stops_when_it_agrees() -> None:
    """The 9,000 point is disturbed in its first two samples (twice the price): the
    curve check flags it, one more pass gives it an agreeing pair, and it stops."""
    truth = {10: 1e-6, 1000: 50e-6, 4000: 260e-6, 9000: 590e-6}
    feeds = {x: scripted([y] * 5) for x, y in truth.items()}
    feeds[9000] = scripted([1180e-6, 1190e-6, 590e-6, 595e-6])
    points = [Point("poll_scan", x, lambda x=x: next(feeds[x])) for x in truth]  # type: ignore[misc]
    calibration = Calibration(points, lambda _line: None, seed=1)
    calibration.run_passes(2)
    assert calibration.prices()["poll_scan", 9000].seconds > 1e-3  # the disturbed pair agrees
    left = calibration.settle(2, ["poll_scan"], {})
    assert left == []
    assert calibration.prices()["poll_scan", 9000].seconds == pytest.approx(592.5e-6)
    assert calibration.remeasured == {("poll_scan", 1000): 2, ("poll_scan", 4000): 2,
                                      ("poll_scan", 9000): 2}


def test_settle_is_bounded_and_says_what_stayed_unsettled() -> None:
    noisy = scripted([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0])
    calibration = Calibration([Point("close", 0, lambda: next(noisy))], lambda _l: None, 1)
    calibration.run_passes(2)
    left = calibration.settle(2, [], {})
    assert len(calibration.samples["close", 0]) == 4
    assert len(left) == 1 and left[0].startswith("no two samples agree within 10%: close at 0")


def test_a_point_this_machine_cannot_measure_has_no_price() -> None:
    calibration = Calibration([Point("select_scan", 2000, lambda: None)], lambda _l: None, 1)
    calibration.run_passes(3)
    assert calibration.prices() == {} and calibration.settle(2, ["select_scan"], {}) == []
