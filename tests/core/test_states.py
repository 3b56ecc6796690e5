"""Every record's states: the JSON Schemas list exactly the enums' values, and each
transition table covers its states."""

from __future__ import annotations

import enum
from typing import Any

import pytest

import schemas
from umfax.lifecycle import TRANSITIONS, FailureCause, JobState
from umfax.states import (
    IN_SERVICE,
    INBOUND_TRANSITIONS,
    LINE_TRANSITIONS,
    OUTBOX_TRANSITIONS,
    REPORTED_LINE_STATES,
    InboundState,
    LineState,
    OutboxState,
)
from umfax.twilio_shapes import FAILED_AS, TWILIO_STATUS

HEALTH_LINE_STATE: tuple[str, ...] = ("properties", "checks", "properties", "lines", "additionalProperties")
HEALTH_LINE_STATE += ("properties", "state", "enum")


def _at(schema: str, *path: str) -> Any:
    node: Any = schemas.load(schema)
    for key in path:
        node = node[key]
    return node


@pytest.mark.parametrize(
    ("states", "schema", "path"),
    [
        (set(JobState), "job", ("properties", "state", "enum")),
        (set(InboundState), "inbound", ("properties", "state", "enum")),
        (set(LineState), "line", ("properties", "state", "enum")),
        (
            REPORTED_LINE_STATES,
            "health",
            HEALTH_LINE_STATE,
        ),
        (set(OutboxState), "notice", ("properties", "state", "enum")),
    ],
    ids=["job", "inbound", "line", "health-line", "notice"],
)
def test_schema_enums_are_the_states(states: set[enum.StrEnum], schema: str, path: tuple[str, ...]) -> None:
    listed = _at(schema, *path)
    assert len(listed) == len(set(listed))
    assert set(listed) == {s.value for s in states}


def test_job_causes_in_schemas_are_the_failure_causes() -> None:
    causes = {c.value for c in FailureCause}
    assert set(_at("job", "properties", "last_cause", "enum")) == causes | {None}
    assert set(_at("attempt", "properties", "result", "enum")) == causes | {None, "ok", "not_sent"}


def test_every_job_state_has_a_twilio_status_the_schema_knows() -> None:
    assert set(TWILIO_STATUS) == set(JobState)
    known = set(_at("twilio_fax", "properties", "status", "enum"))
    assert set(TWILIO_STATUS.values()) | set(FAILED_AS.values()) <= known


@pytest.mark.parametrize(
    ("table", "states"),
    [
        (TRANSITIONS, set(JobState)),
        (INBOUND_TRANSITIONS, set(InboundState)),
        (LINE_TRANSITIONS, REPORTED_LINE_STATES),
        (OUTBOX_TRANSITIONS, set(OutboxState)),
    ],
    ids=["job", "inbound", "line", "outbox"],
)
def test_each_table_covers_its_states(table: dict[Any, frozenset[Any]], states: set[Any]) -> None:
    assert set(table) == states
    assert all(targets <= states for targets in table.values())


def test_inbound_states() -> None:
    assert InboundState.RECEIVING.can_become(InboundState.QUARANTINED)
    assert not InboundState.RECEIVED.can_become(InboundState.PARTIAL)
    assert {s for s in InboundState if s.terminal} == set(InboundState) - {InboundState.RECEIVING}


def test_line_states() -> None:
    assert IN_SERVICE <= REPORTED_LINE_STATES
    assert not LineState.DOWN.in_service and LineState.IDLE.in_service
    assert all(state.can_become(LineState.STARTING) for state in REPORTED_LINE_STATES)
    assert not LineState.STOPPED.can_become(LineState.IDLE)
    # Shown, never reported: no transition leads to them.
    assert not any({LineState.UNKNOWN, LineState.DISABLED} & targets for targets in LINE_TRANSITIONS.values())


def test_outbox_states() -> None:
    assert OutboxState.DEAD.can_become(OutboxState.PENDING)
    assert not OutboxState.DONE.can_become(OutboxState.DEAD)
