import datetime as dt

import pytest

from bot.waivers.grammar import Waive
from bot.waivers.policy import decide_waiver, expires_at
from rules.core.config import WaiverSettings

TODAY = dt.date(2026, 11, 25)


def decide(role="write", commenter="maria", author="sam", days=None, until=None, **settings):
    command = Waive("fault-injection", None, until, days if until is None else None, "chaos test")
    return decide_waiver(
        command,
        today=TODAY,
        commenter=commenter,
        commenter_role=role,
        pr_author=author,
        settings=WaiverSettings(**settings),
    )


@pytest.mark.parametrize(
    "role, allowed",
    [
        ("admin", True),
        ("maintain", True),
        ("write", True),
        ("triage", False),
        ("read", False),
        ("none", False),
        (None, False),
        ("owner", False),
    ],
)
def test_permission_matrix_with_the_default_write_level(role, allowed):
    decision = decide(role=role, days=7)
    assert decision.allowed is allowed
    if not allowed:
        assert "needs `write` permission" in decision.reason


def test_the_required_level_is_configurable():
    assert not decide(role="write", days=7, permission="maintain").allowed
    assert decide(role="maintain", days=7, permission="maintain").allowed


def test_waiving_in_ones_own_pull_request_is_refused_by_default():
    decision = decide(commenter="Sam", author="sam", days=7)
    assert not decision.allowed and "your own pull request" in decision.reason
    assert decide(commenter="sam", author="sam", days=7, allow_self_waive=True).allowed


def test_deadlines_must_be_in_the_future_and_within_max_days():
    assert decide(until=TODAY).allowed  # the end of today is still ahead
    past = decide(until=TODAY - dt.timedelta(days=1))
    assert not past.allowed and "in the past" in past.reason
    far = decide(days=31)
    assert not far.allowed and "latest allowed is 2026-12-25" in far.reason
    assert decide(days=30).until == dt.date(2026, 12, 25)
    assert decide(days=60, max_days=90).allowed


def test_a_deadline_ends_at_the_end_of_its_day_utc():
    assert expires_at(dt.date(2026, 12, 31)) == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


def test_the_last_representable_day_is_refused_not_crashed_on():
    decision = decide(until=dt.date.max, max_days=10**7)
    assert not decision.allowed and "pick an earlier one" in decision.reason
