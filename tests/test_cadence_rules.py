"""The visit cadence's rules (crm/visits/cadence.py), with no database."""

from datetime import date, timedelta

from crm.visits.cadence import (
    Cadence,
    breaks_courtesy,
    cadence_key,
    days_overdue,
    due_on,
    is_overdue,
    since,
)

DISTRICT = Cadence(longest_interval_days=30, courtesy_limit=3)
LOCAL = Cadence(longest_interval_days=90, courtesy_limit=2)
NONE = Cadence(longest_interval_days=180, courtesy_limit=1)
ON = date(2026, 5, 20)


def test_a_firm_without_tier_has_its_own_cadence_row():
    assert cadence_key(None) == "none"
    assert cadence_key("district") == "district"


def test_overdue_the_day_after_the_longest_interval():
    last = ON - timedelta(days=30)
    assert due_on(last, DISTRICT, since=date(2020, 1, 1)) == ON
    assert not is_overdue(last, DISTRICT, since=date(2020, 1, 1), on=ON)
    assert is_overdue(last, DISTRICT, since=date(2020, 1, 1), on=ON + timedelta(days=1))
    assert days_overdue(last, DISTRICT, since=date(2020, 1, 1), on=ON + timedelta(days=5)) == 5
    assert days_overdue(last, DISTRICT, since=date(2020, 1, 1), on=ON) == 0


def test_a_never_visited_firm_counts_from_its_primary_assignment_else_its_record():
    created, assigned = date(2025, 1, 10), date(2026, 4, 1)
    assert since(assigned, created) == assigned
    assert since(None, created) == created
    start = since(assigned, created)
    assert not is_overdue(None, DISTRICT, since=start, on=date(2026, 5, 1))
    assert is_overdue(None, DISTRICT, since=start, on=date(2026, 5, 2))
    # Without an assignment the firm has been waiting since it was recorded.
    assert days_overdue(None, DISTRICT, since=since(None, created), on=date(2025, 2, 14)) == 5


def test_moving_from_local_to_district_makes_a_firm_overdue_from_the_same_last_visit():
    last = ON - timedelta(days=45)
    assert not is_overdue(last, LOCAL, since=last, on=ON)
    assert is_overdue(last, DISTRICT, since=last, on=ON)
    assert days_overdue(last, DISTRICT, since=last, on=ON) == 15


def test_courtesy_limit_counts_visits_within_30_days_either_side():
    # District: 3 in 30 days. Two before: a third is fine, a fourth is not.
    two = [ON - timedelta(days=3), ON - timedelta(days=10)]
    assert not breaks_courtesy(two, DISTRICT, on=ON)
    assert breaks_courtesy([*two, ON - timedelta(days=20)], DISTRICT, on=ON)
    # A visit already planned after the day shares a window with it.
    assert breaks_courtesy([ON + timedelta(days=5), ON + timedelta(days=12)], Cadence(60, 2), on=ON)


def test_courtesy_window_edges_at_30_days():
    # Without tier: one visit in 30 days. 29 days apart share a window; 30 days apart do not.
    assert breaks_courtesy([ON - timedelta(days=29)], NONE, on=ON)
    assert not breaks_courtesy([ON - timedelta(days=30)], NONE, on=ON)
    assert breaks_courtesy([ON + timedelta(days=29)], NONE, on=ON)
    assert not breaks_courtesy([ON + timedelta(days=30)], NONE, on=ON)


def test_requested_visits_do_not_count_toward_the_courtesy_limit():
    # The caller passes only unrequested dates: a firm that asked twice is no bother.
    asked = [ON - timedelta(days=2), ON - timedelta(days=4)]
    unrequested: list[date] = []
    assert not breaks_courtesy(unrequested, NONE, on=ON)
    assert breaks_courtesy(asked, NONE, on=ON)  # the same dates, were they unasked


def test_courtesy_limit_follows_the_current_tier():
    # One visit a week ago: a firm without tier may not be visited again; a district one may.
    week_ago = [ON - timedelta(days=7)]
    assert breaks_courtesy(week_ago, NONE, on=ON)
    assert not breaks_courtesy(week_ago, DISTRICT, on=ON)
