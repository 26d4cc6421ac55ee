"""Comparing two releases of a service: what a deploy of one over the other would change in the
template and the attributes, and which releases were registered in between (the way Shipit
lists the commits being shipped).

Secrets: an attribute whose name looks secret (audit.services.is_secret: `db_password`,
`api_key`, ...) is shown as SECRET_MASK wherever these helpers show attributes; a change of it
says only that it changed.
"""

import difflib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from audit.services import redact
from releases.models import Release

SECRET_MASK = "********"  # noqa: S105 (a mask, not a password)
MAX_RELEASES_BETWEEN = 100
# difflib's matcher is quadratic on some inputs: two 256 KiB templates with every seventh line
# changed took 7 s (bench in tests/test_release_page.py). Past this budget the comparison says
# so instead of holding a web worker.
DIFF_SECONDS = 1.0
CONTEXT_LINES = 3


class Incomparable(Exception):
    """The two releases cannot be compared (different services); the message says why."""


class TooSlow(Exception):
    """The diff would take longer than its budget."""


def against_id(given: str | None) -> int:
    """The id in a comparison's `against` parameter; ValueError with a sentence otherwise."""
    if not given:
        raise ValueError(
            "Say which release to compare with: add ?against=ID, the id of another release "
            "of the same service."
        )
    if not given.isascii() or not given.isdigit():
        raise ValueError(
            f"against={given[:40]!r} is not a release id: give the id (a whole number) of "
            "another release of the same service."
        )
    return int(given)


def unknown_against(pk: int) -> str:
    return f"There is no release #{pk} to compare with; it may have been deleted."


def shown_attributes(attributes: dict) -> dict:
    """The attributes as people and API clients may see them: secret-looking values masked."""
    return redact(attributes, placeholder=SECRET_MASK)


def attribute_changes(before: dict, after: dict) -> dict:
    """{"added": {name: value}, "removed": {name: value}, "changed": {name: {"from", "to"}}}
    from `before` to `after`, secrets masked (a changed secret shows the mask twice)."""
    before, after = before or {}, after or {}
    old, new = shown_attributes(before), shown_attributes(after)
    return {
        "added": {name: new[name] for name in sorted(after.keys() - before.keys())},
        "removed": {name: old[name] for name in sorted(before.keys() - after.keys())},
        "changed": {
            name: {"from": old[name], "to": new[name]}
            for name in sorted(before.keys() & after.keys())
            if before[name] != after[name]
        },
    }


class _BoundedMatcher(difflib.SequenceMatcher):
    """A SequenceMatcher that gives up past a deadline. It looks for the longest match once per
    region it splits, so checking there bounds the time to the deadline plus one linear scan."""

    def __init__(self, a: list[str], b: list[str], deadline: float):
        self.deadline = deadline
        super().__init__(None, a, b)

    def find_longest_match(self, alo=0, ahi=None, blo=0, bhi=None):
        if time.monotonic() > self.deadline:
            raise TooSlow
        return super().find_longest_match(alo, ahi, blo, bhi)


def _unified_range(start: int, stop: int) -> str:
    """A hunk header's range, as difflib.unified_diff writes it."""
    length = stop - start
    beginning = start + 1 if length else start
    return str(beginning) if length == 1 else f"{beginning},{length}"


def unified_diff(
    a: list[str], b: list[str], fromfile: str, tofile: str, *, seconds: float = DIFF_SECONDS
) -> Iterator[str]:
    """difflib.unified_diff's lines (a and b with their line ends), raising TooSlow past
    `seconds`."""
    matcher = _BoundedMatcher(a, b, time.monotonic() + seconds)
    started = False
    for group in matcher.get_grouped_opcodes(CONTEXT_LINES):
        if not started:
            started = True
            yield f"--- {fromfile}\n"
            yield f"+++ {tofile}\n"
        first, last = group[0], group[-1]
        old_range = _unified_range(first[1], last[2])
        new_range = _unified_range(first[3], last[4])
        yield f"@@ -{old_range} +{new_range} @@\n"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in a[i1:i2])
                continue
            if tag in {"replace", "delete"}:
                yield from ("-" + line for line in a[i1:i2])
            if tag in {"replace", "insert"}:
                yield from ("+" + line for line in b[j1:j2])


def _lines(text: str) -> list[str]:
    """The text's lines, each ending in "\\n" (split on "\\n" only, as diff and git do); a last
    line without one gets the marker they write, so adding a final newline shows as a change."""
    if not text:
        return []
    lines = [line + "\n" for line in text.split("\n")]
    if text.endswith("\n"):
        lines.pop()  # the empty piece after the final newline
    else:
        lines[-1] += "\\ No newline at end of file\n"
    return lines


def template_diff(against: Release, release: Release, *, seconds: float = DIFF_SECONDS) -> str:
    """The unified diff from `against`'s template to `release`'s; raises TooSlow."""
    name = release.service.name
    return "".join(
        unified_diff(
            _lines(against.template),
            _lines(release.template),
            f"{name} {against.version}",
            f"{name} {release.version}",
            seconds=seconds,
        )
    )


def releases_between(release: Release, against: Release) -> tuple[list[Release], bool]:
    """The releases of the service registered after `against` up to and including `release`
    (or, comparing back to an older release, from it up to `against` exclusive), newest first,
    at most MAX_RELEASES_BETWEEN; and whether there were more."""
    if release.pk > against.pk:
        span = {"id__gt": against.pk, "id__lte": release.pk}
    else:
        span = {"id__gte": release.pk, "id__lt": against.pk}
    found = list(
        Release.objects.filter(service_id=release.service_id, **span)
        .select_related("created_by")
        .only("id", "version", "created_at", "comment", "created_by__username")
        .order_by("-id")[: MAX_RELEASES_BETWEEN + 1]
    )
    return found[:MAX_RELEASES_BETWEEN], len(found) > MAX_RELEASES_BETWEEN


@dataclass
class Comparison:
    """What deploying `release` where `against` runs would change."""

    release: Release
    against: Release
    template_diff: str = ""
    template_diff_skipped: str | None = None  # a sentence when the diff was too costly
    attributes: dict = field(default_factory=dict)
    releases_between: list[Release] = field(default_factory=list)
    releases_between_truncated: bool = False

    @property
    def diff_lines(self) -> list[tuple[str, str]]:
        """(kind, line) pairs for display; kind is "add", "remove", "hunk" or "same"."""
        kinds = {"+": "add", "-": "remove", "@": "hunk"}
        lines = self.template_diff.split("\n")[2:]  # after the ---/+++ header lines
        return [(kinds.get(line[:1], "same"), line) for line in lines if line]


def compare(release: Release, against: Release, *, seconds: float = DIFF_SECONDS) -> Comparison:
    """Compare two releases of one service; raises Incomparable for two services."""
    if release.service_id != against.service_id:
        raise Incomparable(
            f"Release #{release.pk} is of {release.service.name} and #{against.pk} of "
            f"{against.service.name}: only releases of the same service can be compared. "
            f"Pick a release of {release.service.name} to compare with."
        )
    comparison = Comparison(release=release, against=against)
    try:
        comparison.template_diff = template_diff(against, release, seconds=seconds)
    except TooSlow:
        comparison.template_diff_skipped = (
            f"The templates differ in too many places to compare within {seconds:g} s; "
            "fetch both (GET /api/releases/{id}) and compare them with a diff tool."
        )
    comparison.attributes = attribute_changes(against.attributes, release.attributes)
    comparison.releases_between, comparison.releases_between_truncated = releases_between(
        release, against
    )
    return comparison
