"""pytest-benchmark settings for the suite.

The JSON that ``make bench`` writes (``reports/bench/latest.json``) keeps each
benchmark's statistics and ``extra_info`` (the ratios the bars are judged
on) but not the raw per-round timings: a fast benchmark runs hundreds of
thousands of rounds, and their list made the file megabytes long.
"""

from __future__ import annotations

from typing import Any


def pytest_benchmark_update_json(config: Any, benchmarks: Any, output_json: dict[str, Any]
                                 ) -> None:
    for bench in output_json.get("benchmarks", []):
        bench.get("stats", {}).pop("data", None)
