"""Where a figure stands among the DORA performance clusters of the 2023 Accelerate State of
DevOps Report (its table "Software delivery performance"; docs/metrics.md quotes it).

The report describes each cluster in words ("between once per day and once per week"), and its
low and medium clusters overlap on frequency and lead time; these thresholds are our reading of
those words, one boundary between two neighbouring clusters each.
"""

HOUR = 3600
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY

ELITE, HIGH, MEDIUM, LOW = "elite", "high", "medium", "low"


def frequency_band(per_day: float) -> str:
    """Elite: on demand (at least daily); high: daily to weekly; medium: weekly to monthly."""
    if per_day >= 1:
        return ELITE
    if per_day >= 1 / 7:
        return HIGH
    if per_day >= 1 / 30:
        return MEDIUM
    return LOW


def lead_time_band(seconds: float | None) -> str | None:
    """Elite: under a day; high: under a week; medium: under a month."""
    if seconds is None:
        return None
    if seconds < DAY:
        return ELITE
    if seconds < WEEK:
        return HIGH
    if seconds < MONTH:
        return MEDIUM
    return LOW


def failure_rate_band(rate: float | None) -> str | None:
    """The clusters' rates were 5 %, 10 %, 15 % and 64 %: at most 5 % is elite, and so on."""
    if rate is None:
        return None
    if rate <= 0.05:
        return ELITE
    if rate <= 0.10:
        return HIGH
    if rate <= 0.15:
        return MEDIUM
    return LOW


def restore_band(seconds: float | None) -> str | None:
    """Failed deployment recovery time. Elite: under an hour; high: under a day; medium: under
    a week."""
    if seconds is None:
        return None
    if seconds < HOUR:
        return ELITE
    if seconds < DAY:
        return HIGH
    if seconds < WEEK:
        return MEDIUM
    return LOW
