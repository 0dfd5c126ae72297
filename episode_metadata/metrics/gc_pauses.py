"""How long each run of Python's cyclic garbage collector held a server process.

A collection holds the interpreter: every request and socket of the process waits until it
ends, so long runs show as latency nobody's code explains. The collector's callback only adds
to plain numbers (it may run inside any allocation, even one under a metrics lock); a
collector turns them into a histogram at each scrape.
"""

import bisect
import gc
import time
from collections.abc import Iterator

from prometheus_client.core import HistogramMetricFamily, Metric

BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
GENERATIONS = (0, 1, 2)

# Per generation: the runs in each bucket (the last, over every bound), and the seconds in all.
_counts = {generation: [0] * (len(BUCKETS) + 1) for generation in GENERATIONS}
_seconds = dict.fromkeys(GENERATIONS, 0.0)
_started = 0.0


def _observe(phase: str, info: dict) -> None:
    global _started
    if phase == "start":
        _started = time.perf_counter()
        return
    spent = time.perf_counter() - _started
    generation = info["generation"]
    _counts[generation][bisect.bisect_left(BUCKETS, spent)] += 1
    _seconds[generation] += spent


def install() -> None:
    """Time every collection of this process from now on (once, however often called)."""
    if _observe not in gc.callbacks:
        gc.callbacks.append(_observe)


class GcPauseCollector:
    def describe(self) -> Iterator[Metric]:
        yield self._family()

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for generation in GENERATIONS:
            counts = list(_counts[generation])
            cumulative, buckets = 0, []
            for bound, count in zip([*map(str, BUCKETS), "+Inf"], counts, strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            family.add_metric([str(generation)], buckets, _seconds[generation])
        yield family

    def _family(self) -> HistogramMetricFamily:
        return HistogramMetricFamily(
            "episodes_gc_pause_seconds",
            "Time each run of Python's cyclic garbage collector held the process, by generation.",
            labels=["generation"],
        )
