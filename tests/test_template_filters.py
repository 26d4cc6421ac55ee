"""kubernaut/templatetags/kubernaut.py: the filters every page uses."""

from datetime import timedelta

import pytest
from django.utils import timezone

from kubernaut.templatetags.kubernaut import ago


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(0, "just now"), (59, "just now"), (60, "1\xa0minute ago"), (3 * 3600, "3\xa0hours ago")],
)
def test_ago_says_just_now_within_the_first_minute(seconds, said):
    assert ago(timezone.now() - timedelta(seconds=seconds)) == said


def test_ago_of_nothing_is_empty():
    assert ago(None) == ""
