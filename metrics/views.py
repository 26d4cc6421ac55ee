"""The /metrics/ page: the DORA metrics as big numbers with their band, and a weekly chart drawn
as SVG on the server (no JavaScript, no CDN)."""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from metrics import bands, services

CHART_WIDTH, CHART_HEIGHT, CHART_TOP, CHART_BOTTOM, CHART_LEFT = 640, 220, 16, 28, 40


@dataclass
class Bar:
    x: float
    width: float
    y: float
    height: float


@dataclass
class ChartWeek:
    week_start: object
    deployments: int
    failures: int
    deployments_bar: Bar
    failures_bar: Bar
    label_x: float


def chart(weekly: list[dict]) -> dict:
    """Bar geometry for the weekly chart: for each week a deployments bar and a failures bar."""
    top = max([week["deployments"] for week in weekly] + [1])
    plot_height = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    slot = (CHART_WIDTH - CHART_LEFT) / max(len(weekly), 1)
    width = slot * 0.4
    baseline = CHART_TOP + plot_height

    def bar(x: float, count: int) -> Bar:
        height = plot_height * count / top
        return Bar(round(x, 1), round(width, 1), round(baseline - height, 1), round(height, 1))

    weeks = []
    for number, week in enumerate(weekly):
        left = CHART_LEFT + number * slot + slot * 0.1
        weeks.append(
            ChartWeek(
                week["week_start"],
                week["deployments"],
                week["failures"],
                bar(left, week["deployments"]),
                bar(left + width, week["failures"]),
                round(left + width, 1),
            )
        )
    return {
        "weeks": weeks,
        "top": top,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": CHART_LEFT,
        "baseline": baseline,
        "top_y": CHART_TOP,
        # every label fits up to 13 weeks; beyond, every second one
        "label_every": 1 if len(weekly) <= 13 else 2,
    }


def duration(seconds: float | None) -> str:
    """A duration as people say it: 45 s, 12 min, 3.5 h, 2.1 days."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


@login_required
def dora(request):
    service = request.GET.get("service", "").strip()[:63] or None
    raw_days = request.GET.get("days", "30")
    status, error = 200, ""
    days = int(raw_days) if raw_days in {str(d) for d in services.DAYS} else None
    if days is None:
        status, error, days = 400, "days must be 7, 30 or 90; showing the last 30 days.", 30
    namespace_ids = services.counted_namespace_ids(request.user)
    try:
        figures = services.dora_cached(namespace_ids, days=days, service=service)
    except services.UnknownService as unknown:
        status, error = 404, f"{unknown} Showing all services."
        service = None
        figures = services.dora_cached(namespace_ids, days=days)
    context = {
        "figures": figures,
        "service": service or "",
        "days": days,
        "error": error,
        "tabs": [
            (d, "?" + urlencode({"service": service, "days": d} if service else {"days": d}))
            for d in services.DAYS
        ],
        "service_names": services.production_service_names(namespace_ids),
        "namespace_count": len(namespace_ids),
        "bands": {
            "frequency": bands.frequency_band(figures.per_day),
            "failure_rate": bands.failure_rate_band(figures.failure_rate),
            "lead_time": bands.lead_time_band(figures.lead_median),
            "restore": bands.restore_band(figures.restore_median),
        },
        "lead_median": duration(figures.lead_median),
        "lead_p90": duration(figures.lead_p90),
        "restore_median": duration(figures.restore_median),
        "restore_p90": duration(figures.restore_p90),
        "rate_percent": None if figures.failure_rate is None else figures.failure_rate * 100,
        "chart": chart(figures.weekly),
        "api_query": urlencode({"service": service, "days": days} if service else {"days": days}),
    }
    return render(request, "metrics/dora.html", context, status=status)
