"""``GET /metrics``: Prometheus text format (docs/deploy.md, "Monitoring").

The API serves /metrics, but renders happen in worker processes (on the embedded default, in the
API process itself), so every figure comes from a place all processes share:

* **counts** (renders by status, the queue depth = renders ``pending``) are read from the database
  at scrape time: always right, whichever process rendered;
* **timings and failures** (render and encode durations by quality, failures by reason): each
  process adds to its own totals in :func:`observe_render`; a worker flushes what it added to one
  Redis hash (``STATS_KEY``, ``HINCRBYFLOAT``: additions from many workers never race) every few
  seconds and at shutdown (:func:`flush`, called by ``dxgl.jobs.capacity``). With ``DXGL_REDIS_URL``
  set the API reads that hash; on the embedded default it reads its own totals;
* **worker heartbeats** (``dxgl.services.health``): the age of each worker's last beat.

Histograms are kept as Prometheus keeps them (cumulative ``le`` buckets, ``_sum``, ``_count``), so a
scrape is a plain read. The endpoint needs no token: it says how many renders there are and how long
they take, nothing about any account; keep it on the internal network (docs/deploy.md).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from dxgl.queue import ArqQueue, EmbeddedQueue
from dxgl.services import health

log = logging.getLogger(__name__)

STATS_KEY = "dxgl:metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds. A standard job takes 15-20 s on 2 CPU cores, a 4K pro job minutes; a GPU is far quicker.
BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 3600.0, math.inf)
RENDER_SECONDS = "render_seconds"
ENCODE_SECONDS = "encode_seconds"
FINISHED = "finished"
FAILURES = "failures"
_SEP = "|"  # fields: metric|label|part, parts: a bucket bound, "sum" or "count"


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)


class _Totals:
    """This process's additions: everything since start (for an in-process scrape) and what is not
    yet flushed to Redis. Thread-safe: renders may finish on any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total: dict[str, float] = {}
        self.unflushed: dict[str, float] = {}

    def add(self, fields: dict[str, float]) -> None:
        with self._lock:
            for name, value in fields.items():
                self.total[name] = self.total.get(name, 0.0) + value
                self.unflushed[name] = self.unflushed.get(name, 0.0) + value

    def take_unflushed(self) -> dict[str, float]:
        with self._lock:
            taken, self.unflushed = self.unflushed, {}
            return taken

    def give_back(self, fields: dict[str, float]) -> None:
        """A flush failed: keep its additions for the next one."""
        with self._lock:
            for name, value in fields.items():
                self.unflushed[name] = self.unflushed.get(name, 0.0) + value

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self.total)


_totals = _Totals()


def _histogram_fields(metric: str, label: str, seconds: float) -> dict[str, float]:
    fields = {_SEP.join((metric, label, _le(b))): 1.0 for b in BUCKETS if seconds <= b}
    fields[_SEP.join((metric, label, "sum"))] = seconds
    fields[_SEP.join((metric, label, "count"))] = 1.0
    return fields


def observe_render(
    *, quality: str, outcome: str, render_seconds: float, encode_seconds: float | None = None, reason: str | None = None
) -> None:
    """A render group finished (``outcome``: done | error; ``reason``: the error code)."""
    fields = _histogram_fields(RENDER_SECONDS, quality, max(0.0, render_seconds))
    if encode_seconds is not None:
        fields.update(_histogram_fields(ENCODE_SECONDS, quality, max(0.0, encode_seconds)))
    fields[_SEP.join((FINISHED, f"{quality},{outcome}", "count"))] = 1.0
    if outcome != "done":
        fields[_SEP.join((FAILURES, reason or "unknown", "count"))] = 1.0
    _totals.add(fields)


async def flush(redis: Any) -> None:
    """Add this process's unflushed timings and failures to Redis (a worker, every few seconds)."""
    fields = _totals.take_unflushed()
    if not fields:
        return
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for name, value in fields.items():
                pipe.hincrbyfloat(STATS_KEY, name, value)
            await pipe.execute()
    except BaseException:
        _totals.give_back(fields)
        raise


async def _stats_from_redis(redis: Any) -> dict[str, float]:
    raw = await redis.hgetall(STATS_KEY)
    stats = {}
    for key, value in raw.items():
        try:
            stats[key.decode() if isinstance(key, bytes) else str(key)] = float(value)
        except ValueError:
            continue
    return stats


def _split(stats: dict[str, float]) -> dict[str, dict[str, dict[str, float]]]:
    """metric -> label -> part -> value."""
    tree: dict[str, dict[str, dict[str, float]]] = {}
    for name, value in stats.items():
        parts = name.split(_SEP)
        if len(parts) == 3:
            metric, label, part = parts
            tree.setdefault(metric, {}).setdefault(label, {})[part] = value
    return tree


class _Scrape(Collector):
    """One scrape's figures, read beforehand (async), turned into metric families here."""

    def __init__(self, counts: dict[str, int], stats: dict[str, float], workers: health.Workers) -> None:
        self.counts, self.stats, self.workers = counts, stats, workers

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("dxgl_queue_depth", "Renders waiting for a worker (status pending)")
        depth.add_metric([], self.counts.get("pending", 0))
        yield depth
        renders = GaugeMetricFamily("dxgl_renders", "Renders by status (from the database)", labels=["status"])
        for status, n in sorted(self.counts.items()):
            renders.add_metric([status], n)
        yield renders
        tree = _split(self.stats)
        for metric, name, doc in (
            (
                RENDER_SECONDS,
                "dxgl_render_duration_seconds",
                "Render group wall time (frames and encoding), by quality",
            ),
            (
                ENCODE_SECONDS,
                "dxgl_encode_duration_seconds",
                "Encoding time of render groups (as the render job measures it), by quality",
            ),
        ):
            family = HistogramMetricFamily(name, doc, labels=["quality"])
            for quality, parts in sorted(tree.get(metric, {}).items()):
                buckets = [(_le(b), parts.get(_le(b), 0.0)) for b in BUCKETS]
                family.add_metric([quality], buckets, sum_value=parts.get("sum", 0.0))
            yield family
        finished = CounterMetricFamily(
            "dxgl_render_groups_finished",
            "Render groups finished, by quality and outcome",
            labels=["quality", "outcome"],
        )
        for label, parts in sorted(tree.get(FINISHED, {}).items()):
            quality, _, outcome = label.partition(",")
            finished.add_metric([quality, outcome], parts.get("count", 0.0))
        yield finished
        failures = CounterMetricFamily(
            "dxgl_render_failures", "Render groups that failed, by error code", labels=["reason"]
        )
        for reason, parts in sorted(tree.get(FAILURES, {}).items()):
            failures.add_metric([reason], parts.get("count", 0.0))
        yield failures
        seen = GaugeMetricFamily(
            "dxgl_workers_seen", "Workers whose heartbeat is younger than DXGL_WORKER_HEARTBEAT_SECONDS"
        )
        seen.add_metric([], self.workers.seen)
        yield seen
        age = GaugeMetricFamily(
            "dxgl_worker_heartbeat_age_seconds", "Seconds since each worker's last heartbeat", labels=["worker", "kind"]
        )
        for worker in self.workers.known:
            age.add_metric([worker.worker_id, str(worker.info.get("kind", ""))], worker.age_s)
        yield age


async def scrape(rt: Any) -> bytes:
    """The /metrics body for runtime ``rt`` (a ``dxgl.runtime.Runtime``)."""
    counts = await health.render_counts(rt.engine)
    window = rt.settings.worker_heartbeat_seconds
    if isinstance(rt.queue, ArqQueue) and rt.queue.pool is not None:
        stats = await _stats_from_redis(rt.queue.pool)
        workers = await health.workers_from_redis(rt.queue.pool, window)
    else:
        stats = _totals.snapshot()
        running = isinstance(rt.queue, EmbeddedQueue) and rt.queue.handler is not None
        workers = health.embedded_workers(running, window)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scrape(counts, stats, workers))
    return generate_latest(registry)


async def metrics_endpoint(request: Request) -> Response:
    return PlainTextResponse(await scrape(request.state.runtime), media_type=CONTENT_TYPE)
