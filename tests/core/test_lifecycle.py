from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from umfax.lifecycle import (
    DEFAULT_RULES,
    TRANSITIONS,
    FailureCause,
    JobState,
    Limits,
    can_transition,
    decide_after_failure,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LIMITS = Limits(max_tries=3, max_dials=5, kill_at=NOW + timedelta(hours=3))


def test_every_state_has_transitions_and_terminal_states_are_final() -> None:
    assert set(TRANSITIONS) == set(JobState)
    assert not TRANSITIONS[JobState.SENT]
    assert can_transition(JobState.SENDING, JobState.QUEUED)
    assert not can_transition(JobState.SENT, JobState.QUEUED)
    assert not can_transition(JobState.PENDING, JobState.SENDING)


def test_every_cause_has_a_rule() -> None:
    assert set(DEFAULT_RULES) == set(FailureCause)


def test_busy_retries_after_its_delay_counting_a_dial() -> None:
    d = decide_after_failure(FailureCause.BUSY, tries=0, dials=0, limits=LIMITS, now=NOW)
    assert d.state is JobState.QUEUED and (d.tries, d.dials) == (0, 1)
    assert d.not_before == NOW + timedelta(seconds=DEFAULT_RULES[FailureCause.BUSY].delay)


def test_protocol_error_counts_a_try_and_gives_up_at_max_tries() -> None:
    d = decide_after_failure(FailureCause.PROTOCOL_ERROR, tries=2, dials=2, limits=LIMITS, now=NOW)
    assert d.state is JobState.FAILED and d.tries == 3 and "gave up after 3 tries" in d.reason


def test_dials_are_limited_too() -> None:
    d = decide_after_failure(FailureCause.NO_ANSWER, tries=0, dials=4, limits=LIMITS, now=NOW)
    assert d.state is JobState.FAILED and "5 dials" in d.reason


def test_local_faults_do_not_count_against_the_number() -> None:
    d = decide_after_failure(FailureCause.NO_DIALTONE, tries=2, dials=4, limits=LIMITS, now=NOW)
    assert d.state is JobState.QUEUED and (d.tries, d.dials) == (2, 4)


@pytest.mark.parametrize(
    "cause",
    [
        FailureCause.BAD_DOCUMENT,
        FailureCause.BLOCKED_NUMBER,
        FailureCause.INVALID_NUMBER,
        FailureCause.CANCELLED,
    ],
)
def test_permanent_causes_fail_at_once(cause: FailureCause) -> None:
    d = decide_after_failure(cause, tries=0, dials=0, limits=LIMITS, now=NOW)
    assert d.state is JobState.FAILED


def test_kill_time_stops_retries() -> None:
    limits = Limits(3, 12, kill_at=NOW + timedelta(minutes=5))
    d = decide_after_failure(FailureCause.NO_ANSWER, tries=0, dials=0, limits=limits, now=NOW)
    assert d.state is JobState.FAILED and "kill time" in d.reason
