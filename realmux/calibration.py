"""Prices that one disturbed measurement cannot move: repeated samples, interleaved, agreed.

Owns: deciding a price from repeated samples of it, checking the curves the
prices make, and choosing what to measure again. Not owned: measuring a sample
(:mod:`realmux.costs` does, as the minimum over short batches, so that a
preemption inside a sample already does not count). Standard library only.

What a shared two-vCPU VM does to samples (measured here, 2026-12-04, poll
with 9,000 AF_UNIX sockets watched, eight samples each):

* a neighbour's burst, or the host's cache pressure, can last longer than a
  sample (tens of milliseconds): such a sample is 20% to 3x too high, and a
  minimum over samples only helps if at least one sample escaped it;
* before the warm-up was lengthened, samples were bimodal (67 or 130 ns a
  descriptor): the minimum of one run and of the next picked different modes,
  and one calibration point in the high mode bent the curve (issue 11: poll
  at 7,500 predicted 751 us, measured 542). Nothing guarantees that no such
  mode is left, so a price must not rest on a single sample, low or high.

The rules:

* **Passes.** Every point is sampled once per pass, the points in a seeded
  shuffle, so drift over the run hits every point alike and cannot pose as
  slope.
* **Price: the lowest agreeing pair.** Sorted, the first two neighbouring
  samples within ``AGREE`` (10%) of each other set the price (their mean).
  A disturbed sample then needs a partner to set a price: one cannot, high
  or low. A point without an agreeing pair is *unstable*; its price is then
  the median, and it is measured again.
* **Curve checks** on the readiness curves (cost against descriptors or
  events): with more descriptors a call may not cost less (``SLACK``, 3%),
  and a segment's cost per descriptor must be within ``SLOPE`` (2x) of its
  neighbour's (fs/select.c does the same work for every descriptor, so
  the slope changes only as the data outgrows a cache). In-between points
  (``between``) must lie within ``BETWEEN`` (10%, well inside the prediction
  bench's 25%) of the straight line between the points around them. The
  points of a failing check are measured again.
* **Bounded.** At most ``rounds`` rounds of ``per_round`` extra passes, over
  the flagged points only (cheap: a sample of the largest poll lasts about a
  tenth of a second). Under heavy CPU contention (load 9 on two vCPUs) a
  poll over 8,500 sockets is itself bimodal, 68 ns a descriptor with its
  sockets in cache or 200 to 300 ns once a neighbour's slice has evicted
  them, and only a few samples land in the fast mode: more samples, not a
  cleverer statistic, are what let two of them agree.
  What still fails is reported, never hidden; the caller keeps a running
  maximum so that more descriptors never cost less.
* **Stability** of each price: how many samples it had, the spread (the
  interquartile range over the price) and whether a pair agreed.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

AGREE = 0.10
SLACK = 0.03
SLOPE = 2.0
BETWEEN = 0.10

Key = tuple[str, int]  # (price name, x)


@dataclass(frozen=True)
class Point:
    """One price to measure: a sample in seconds, or None when this machine cannot."""

    key: str
    x: int
    measure: Callable[[], float | None]


@dataclass(frozen=True)
class Price:
    """A price decided from its samples, and how far to trust it."""

    seconds: float
    repeats: int
    spread: float  # interquartile range over the price
    agreed: bool  # two samples within AGREE set it


def price_of(samples: Sequence[float]) -> Price:
    """The mean of the lowest two neighbouring samples that agree within AGREE."""
    ordered = sorted(samples)
    if not ordered:
        raise ValueError("no samples")
    n = len(ordered)
    quartiles = (ordered[n // 4], ordered[(3 * n) // 4]) if n >= 2 else (ordered[0],) * 2
    for low, high in pairwise(ordered):
        if high <= low * (1 + AGREE):
            seconds = (low + high) / 2
            return Price(seconds, n, (quartiles[1] - quartiles[0]) / seconds, True)
    seconds = statistics.median(ordered)
    return Price(seconds, n, (quartiles[1] - quartiles[0]) / max(seconds, 1e-30), False)


@dataclass(frozen=True)
class Fault:
    """A curve check that failed, and the points to measure again for it."""

    message: str
    points: frozenset[Key]


def curve_faults(prices: Mapping[Key, float], curves: Collection[str],
                 between: Mapping[str, str]) -> list[Fault]:
    """The checks the prices of ``curves`` fail; ``between`` maps an in-between key to its curve."""
    faults: list[Fault] = []
    for curve in curves:
        pts = sorted((x, y) for (k, x), y in prices.items() if k == curve)
        for (x0, y0), (x1, y1) in pairwise(pts):
            if y1 < y0 * (1 - SLACK):
                faults.append(Fault(f"{curve}: {y1 * 1e6:.3g} us at {x1} is below "
                                    f"{y0 * 1e6:.3g} us at {x0}",
                                    frozenset({(curve, x0), (curve, x1)})))
        slopes = [((y1 - y0) / (x1 - x0), (x0, x1))
                  for (x0, y0), (x1, y1) in pairwise(pts)]
        for (s0, (a, b)), (s1, (_, c)) in pairwise(slopes):
            if min(s0, s1) <= 0 or max(s0, s1) > SLOPE * min(s0, s1):
                faults.append(Fault(
                    f"{curve}: {s0 * 1e9:.3g} ns a step from {a} to {b}, then "
                    f"{s1 * 1e9:.3g} from {b} to {c} (more than {SLOPE:g}x apart)",
                    frozenset({(curve, a), (curve, b), (curve, c)})))
    for key, curve in between.items():
        pts = sorted((x, y) for (k, x), y in prices.items() if k == curve)
        for (k, x), y in prices.items():
            if k != key:
                continue
            around = [p for p in pairwise(pts) if p[0][0] <= x <= p[1][0]]
            if not around:
                continue
            (x0, y0), (x1, y1) = around[0]
            line = y0 + (y1 - y0) * (x - x0) / (x1 - x0)
            if abs(line / y - 1) > BETWEEN:
                faults.append(Fault(f"{curve}: {y * 1e6:.3g} us measured at {x}, "
                                    f"{line * 1e6:.3g} on the line from {x0} to {x1}",
                                    frozenset({(key, x), (curve, x0), (curve, x1)})))
    return faults


class Calibration:
    """The samples of a set of points, taken in shuffled passes, and the prices they give."""

    def __init__(self, points: Sequence[Point], say: Callable[[str], None], seed: int) -> None:
        self.points = list(points)
        self.say = say
        self.shuffle = random.Random(seed).shuffle
        self.samples: dict[Key, list[float]] = {}
        self.passes = 0
        self.remeasured: dict[Key, int] = {}

    def run_passes(self, passes: int, only: Collection[Key] | None = None) -> None:
        """Sample every point (or those in ``only``) once per pass, in a fresh shuffle."""
        todo = [p for p in self.points if only is None or (p.key, p.x) in only]
        for _ in range(passes):
            self.passes += 1
            self.shuffle(todo)
            for point in todo:
                seconds = point.measure()
                if seconds is None:
                    continue
                self.samples.setdefault((point.key, point.x), []).append(seconds)
                if only is not None:
                    key = (point.key, point.x)
                    self.remeasured[key] = self.remeasured.get(key, 0) + 1
                self.say(f"pass {self.passes}: {point.key} {point.x}: "
                         f"{seconds * 1e6:.3g} us")

    def prices(self) -> dict[Key, Price]:
        return {key: price_of(samples) for key, samples in self.samples.items()}

    def settle(self, rounds: int, curves: Collection[str], between: Mapping[str, str],
               per_round: int = 1) -> list[str]:
        """Measure unstable and faulty points again, ``per_round`` passes a round, at most
        ``rounds`` rounds; what still fails."""
        for done in range(rounds + 1):
            prices = self.prices()
            flagged = {key for key, price in prices.items() if not price.agreed}
            faults = curve_faults({k: p.seconds for k, p in prices.items()}, curves, between)
            for fault in faults:
                flagged |= fault.points
            if not flagged or done == rounds:
                break
            self.say(f"measuring {len(flagged)} unstable or off-curve points again")
            self.run_passes(per_round, flagged)
        return ([f"no two samples agree within {AGREE:.0%}: {k} at {x} "
                 f"({', '.join(f'{s * 1e6:.3g}' for s in sorted(self.samples[k, x]))} us)"
                 for (k, x), price in sorted(prices.items()) if not price.agreed]
                + [fault.message for fault in faults])
