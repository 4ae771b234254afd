"""Prometheus metrics of what matters to operations, read from the database at scrape time.

Power, current and reachability per outlet, PDU, feed and rack; poll durations and errors;
power commands by action and result, with their latency as a histogram; events by kind.

Why from the database (ADR 0010): the web server and every worker are separate processes,
and a counter kept in one of them is neither seen by the scrape of another nor survives a
restart. The database already holds every number (polls write them, commands are rows), so
every process answers a scrape with the same, complete figures. django-prometheus adds each
web process's own request metrics beside them (merged across gunicorn workers when
PROMETHEUS_MULTIPROC_DIR is set).
"""

from __future__ import annotations

import os
from datetime import timedelta

import prometheus_client
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.http import HttpResponse
from prometheus_client import multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from inventory.models import Outlet, Rack
from power.choices import ACTIVE_COMMAND_STATUSES, CommandStatus
from power.models import PowerCommand
from telemetry.models import Event, PduStatus
from telemetry.selectors import rack_measure, rack_measure_prefetch

# Command latency (request to verified outcome) buckets, seconds: a one-outlet command takes
# tens of milliseconds on simulators and seconds on real PDUs; a cycle adds its off period.
COMMAND_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
FINISHED = [s for s in CommandStatus.values if s not in ACTIVE_COMMAND_STATUSES]

OUTLET_LABELS = ["site", "rack", "pdu", "outlet", "host"]
PDU_LABELS = ["site", "rack", "pdu"]
FEED_LABELS = ["site", "rack", "feed", "side"]
RACK_LABELS = ["site", "rack"]


def _gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels)


class DatabaseCollector:
    """Every dcpower_* metric, computed from the database on each scrape."""

    def describe(self):
        return []  # computed at scrape time; no description up front (no query at import)

    def collect(self):
        yield from self._outlets()
        yield from self._pdus()
        yield from self._racks_and_feeds()
        yield from self._commands()
        yield from self._events()

    def _outlets(self):
        power = _gauge("dcpower_outlet_power_watts", "Outlet power, last reading.", OUTLET_LABELS)
        current = _gauge(
            "dcpower_outlet_current_amperes", "Outlet current, last reading.", OUTLET_LABELS
        )
        on = _gauge(
            "dcpower_outlet_on", "1 if the outlet was last seen on, 0 if off.", OUTLET_LABELS
        )
        outlets = Outlet.objects.select_related("pdu__rack__site", "power_supply__host").filter(
            Q(readings_at__isnull=False) | Q(state__in=["on", "off"])
        )
        for outlet in outlets.order_by("pdu_id", "number"):
            pdu = outlet.pdu
            supply = getattr(outlet, "power_supply", None)
            labels = [
                pdu.rack.site.name,
                pdu.rack.name,
                pdu.name,
                str(outlet.number),
                supply.host.name if supply is not None else "",
            ]
            if outlet.power_w is not None:
                power.add_metric(labels, outlet.power_w)
            if outlet.current_a is not None:
                current.add_metric(labels, outlet.current_a)
            if outlet.state in ("on", "off"):
                on.add_metric(labels, 1.0 if outlet.state == "on" else 0.0)
        yield from (power, current, on)

    def _pdus(self):
        up = _gauge("dcpower_pdu_up", "1 if the PDU's last poll succeeded, 0 if not.", PDU_LABELS)
        power = _gauge("dcpower_pdu_power_watts", "PDU total power, last reading.", PDU_LABELS)
        current = _gauge(
            "dcpower_pdu_current_amperes", "PDU total current, last reading.", PDU_LABELS
        )
        voltage = _gauge("dcpower_pdu_voltage_volts", "PDU voltage, last reading.", PDU_LABELS)
        duration = _gauge(
            "dcpower_pdu_poll_duration_seconds", "How long the PDU's last poll took.", PDU_LABELS
        )
        last_success = _gauge(
            "dcpower_pdu_last_success_timestamp_seconds",
            "When the PDU last answered a poll (Unix time).",
            PDU_LABELS,
        )
        polls = CounterMetricFamily("dcpower_pdu_polls", "Polls of the PDU.", labels=PDU_LABELS)
        errors = CounterMetricFamily(
            "dcpower_pdu_poll_errors", "Polls of the PDU that failed.", labels=PDU_LABELS
        )
        statuses = PduStatus.objects.select_related("pdu__rack__site").order_by("pdu_id")
        for status in statuses:
            pdu = status.pdu
            labels = [pdu.rack.site.name, pdu.rack.name, pdu.name]
            if status.up is not None:
                up.add_metric(labels, 1.0 if status.up else 0.0)
            for family, value in (
                (power, status.power_w),
                (current, status.current_a),
                (voltage, status.voltage_v),
                (duration, status.poll_duration_s),
            ):
                if value is not None:
                    family.add_metric(labels, value)
            if status.last_success_at is not None:
                last_success.add_metric(labels, status.last_success_at.timestamp())
            polls.add_metric(labels, status.polls_total)
            errors.add_metric(labels, status.poll_errors_total)
        yield from (up, power, current, voltage, duration, last_success, polls, errors)

    def _racks_and_feeds(self):
        rack_power = _gauge(
            "dcpower_rack_power_watts", "Rack power: its PDUs' last readings.", RACK_LABELS
        )
        capacity = _gauge(
            "dcpower_rack_capacity_watts",
            "What the rack may draw and survive the loss of one side (inventory).",
            RACK_LABELS,
        )
        overload = _gauge(
            "dcpower_rack_failover_overload",
            "1 if losing one side would overload what is left.",
            RACK_LABELS,
        )
        feed_power = _gauge("dcpower_feed_power_watts", "Feed power into a rack.", FEED_LABELS)
        feed_capacity = _gauge(
            "dcpower_feed_capacity_watts", "Feed capacity, derated (inventory).", FEED_LABELS
        )
        racks = rack_measure_prefetch(Rack.objects.select_related("site").order_by("pk"))
        for rack in racks:
            measure = rack_measure(rack)
            labels = [rack.site.name, rack.name]
            capacity.add_metric(labels, measure.capacity_w)
            if measure.power_w is not None:
                rack_power.add_metric(labels, measure.power_w)
                overload.add_metric(labels, 1.0 if measure.failover_overload else 0.0)
            for side in measure.sides:
                for feed in side.feeds:
                    feed_labels = [rack.site.name, rack.name, feed.feed.name, side.side]
                    feed_capacity.add_metric(feed_labels, feed.capacity_w)
                    if feed.power_w is not None:
                        feed_power.add_metric(feed_labels, feed.power_w)
        yield from (rack_power, capacity, overload, feed_power, feed_capacity)

    def _commands(self):
        finished = CounterMetricFamily(
            "dcpower_power_commands",
            "Power commands finished, by action and result.",
            labels=["action", "status"],
        )
        for row in (
            PowerCommand.objects.filter(status__in=FINISHED)
            .values("action", "status")
            .annotate(n=Count("id"))
            .order_by("action", "status")
        ):
            finished.add_metric([row["action"], row["status"]], row["n"])
        in_progress = _gauge(
            "dcpower_power_commands_in_progress",
            "Power commands pending or running.",
            ["action", "status"],
        )
        for row in (
            PowerCommand.objects.filter(status__in=ACTIVE_COMMAND_STATUSES)
            .values("action", "status")
            .annotate(n=Count("id"))
            .order_by("action", "status")
        ):
            in_progress.add_metric([row["action"], row["status"]], row["n"])
        yield finished
        yield in_progress
        yield self._command_latency()

    def _command_latency(self) -> HistogramMetricFamily:
        """From the request to the verified outcome, finished commands that ran (cancelled
        ones did not), by action: bucket counts aggregated in the database."""
        histogram = HistogramMetricFamily(
            "dcpower_power_command_duration_seconds",
            "Power command latency: from the request to every outlet's verified outcome.",
            labels=["action"],
        )
        took = ExpressionWrapper(F("finished_at") - F("created"), output_field=DurationField())
        ran = PowerCommand.objects.filter(
            status__in=[s for s in FINISHED if s != CommandStatus.CANCELLED],
            finished_at__isnull=False,
        ).annotate(took=took)
        aggregates = {
            f"le_{i}": Count("id", filter=Q(took__lte=timedelta(seconds=bound)))
            for i, bound in enumerate(COMMAND_BUCKETS)
        }
        rows = ran.values("action").annotate(n=Count("id"), total=Sum("took"), **aggregates)
        for row in rows.order_by("action"):
            buckets = [(_le(bound), row[f"le_{i}"]) for i, bound in enumerate(COMMAND_BUCKETS)] + [
                ("+Inf", row["n"])
            ]
            total = row["total"].total_seconds() if row["total"] else 0.0
            histogram.add_metric([row["action"]], buckets, total)
        return histogram

    def _events(self):
        events = CounterMetricFamily(
            "dcpower_events", "Events recorded, by kind (drift, pdu_down, ...).", labels=["kind"]
        )
        for row in Event.objects.values("kind").annotate(n=Count("id")).order_by("kind"):
            events.add_metric([row["kind"]], row["n"])
        yield events


def _le(bound: float) -> str:
    return f"{float(bound)}"


_collector = DatabaseCollector()
_registered = False


def register() -> None:
    """Add the database collector to the process's default registry (once)."""
    global _registered
    if not _registered:
        prometheus_client.REGISTRY.register(_collector)
        _registered = True


def metrics_view(request) -> HttpResponse:
    """GET /metrics: this process's metrics (django-prometheus's, Python's), or with
    PROMETHEUS_MULTIPROC_DIR every web process's merged, and the database's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(_collector)
    else:
        register()
        registry = prometheus_client.REGISTRY
    return HttpResponse(
        prometheus_client.generate_latest(registry),
        content_type=prometheus_client.CONTENT_TYPE_LATEST,
    )
