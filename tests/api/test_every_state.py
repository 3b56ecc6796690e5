"""A payload in every state of every record validates against its published schema.

Each test is parametrised over its record's state enum and puts a record in that state
through the store's own operations, then reads it back the way a client does: jobs and
received faxes from the REST API (and the Twilio-shaped serialiser), lines from
/api/v1/lines and /healthz, outbox rows from `umfax outbox --json`.  A state added to an
enum without a way here to reach it fails (KeyError), as does a schema that does not list
it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import schemas
from tests.api.conftest import StartApi
from umfax.api.twilio_fax import resource as twilio_resource
from umfax.cli.main import app as cli_app
from umfax.lifecycle import FailureCause, JobState
from umfax.states import REPORTED_LINE_STATES, InboundState, LineState, OutboxState
from umfax.store import CallOutcome, DocumentIn, JobSpec, PageIn, Store
from umfax.store.outbox import Notice, OutboxStore

PAGE = PageIn(b"II*\x00", 1728, 100, 204.0, 196.0, "mmr")  # the bytes are never decoded here


def _job(store: Store, to: JobState) -> int:
    """A job brought to ``to`` by the operations that do it in production."""
    spec = JobSpec(number="+12125550110", max_dials=1)  # one busy signal fails it
    job = store.submit(spec, [DocumentIn("note.txt", b"Hello\n", "text/plain")])
    steps: dict[JobState, Callable[[], object]] = {
        JobState.PENDING: lambda: None,
        JobState.CONVERTING: lambda: store.claim_conversion("w", 60),
        JobState.QUEUED: lambda: (
            store.claim_conversion("w", 60),
            store.finish_conversion(job.id, "w", [PAGE, PAGE]),
        ),
        JobState.SENDING: lambda: (
            store.claim_conversion("w", 60),
            store.finish_conversion(job.id, "w", [PAGE]),
            store.claim_send("w", "sim1", 60),
        ),
        JobState.SENT: lambda: _send(store, job.id, None),
        JobState.FAILED: lambda: _send(store, job.id, FailureCause.BUSY),
        JobState.CANCELLED: lambda: store.cancel(job.id),
    }
    steps[to]()
    assert store.get_job(job.id).state == to
    return job.id


def _send(store: Store, job_id: int, cause: FailureCause | None) -> None:
    store.claim_conversion("w", 60)
    store.finish_conversion(job_id, "w", [PAGE])
    claim = store.claim_send("w", "sim1", 60)
    assert claim is not None
    store.finish_send(claim, CallOutcome(cause, pages_sent=0 if cause else 1, remote_id="ACME"))


@pytest.mark.parametrize("state", list(JobState))
def test_a_fax_in_every_state(start_api: StartApi, state: JobState) -> None:
    api = start_api(convert=False)
    job_id = _job(api.store, state)
    fax = api.get(f"/api/v1/faxes/{job_id}", "root").json()
    assert fax["state"] == state
    schemas.validate("fax", fax)
    page = api.get(f"/api/v1/faxes?state={state.value}", "root").json()
    schemas.validate("fax_list", page)
    assert [f["id"] for f in page["faxes"]] == [job_id]
    schemas.validate("twilio_fax", twilio_resource(api.store.get_job(job_id), api.url))


def _inbound(store: Store, to: InboundState) -> int:
    fax = store.start_inbound("sim2", caller_number="+12125550100", called_number="+12125550101")

    def close(pages: int, **how: object) -> None:
        for seq in range(1, pages + 1):
            store.add_inbound_page(fax.id, seq, PAGE)
        store.finish_inbound(fax.id, remote_id="ACME", **how)  # type: ignore[arg-type]

    steps: dict[InboundState, Callable[[], object]] = {
        InboundState.RECEIVING: lambda: None,
        InboundState.RECEIVED: lambda: close(2, result="ok", deliver_to=["ann"]),
        InboundState.PARTIAL: lambda: close(1, result=FailureCause.LINE_DROPPED.value, message="cut off"),
        InboundState.FAILED: lambda: close(0, result=FailureCause.PROTOCOL_ERROR.value),
        InboundState.QUARANTINED: lambda: close(1, result="ok", quarantine="sender on the junk list"),
    }
    steps[to]()
    assert store.get_inbound(fax.id).state == to
    return fax.id


@pytest.mark.parametrize("state", list(InboundState))
def test_a_received_fax_in_every_state(start_api: StartApi, state: InboundState) -> None:
    api = start_api(convert=False)
    fax_id = _inbound(api.store, state)
    fax = api.get(f"/api/v1/inbound/{fax_id}", "root").json()
    assert fax["state"] == state
    schemas.validate("inbound", fax)
    schemas.validate("fax_list", api.get("/api/v1/inbound", "root").json())


@pytest.mark.parametrize("state", list(LineState))
def test_a_line_in_every_state(start_api: StartApi, state: LineState) -> None:
    shown_only = {LineState.UNKNOWN: True, LineState.DISABLED: False}  # enabled?
    line: dict[str, str | bool] = {"name": "fax1", "port": "sim:+12125550100", "number": "+12125550100"}
    if state not in REPORTED_LINE_STATES:
        line["enabled"] = shown_only[state]
    api = start_api(convert=False, extra={"lines": [line]})
    if state in REPORTED_LINE_STATES:
        api.store.set_line_state(
            "fax1", node="n1", port="sim:+12125550100", number="+12125550100", state=state, detail="as set"
        )
    elif state is LineState.DISABLED:  # a disabled line's last report is not what is shown
        api.store.set_line_state(
            "fax1", node="n1", port="sim:+12125550100", number="+12125550100", state=LineState.IDLE
        )
    [shown] = api.get("/api/v1/lines", "root").json()["lines"]
    assert shown["state"] == state and shown["stale"] is False
    schemas.validate("line", shown)
    health = api.get("/healthz").json()
    schemas.validate("health", health)
    if state in REPORTED_LINE_STATES:
        assert health["checks"]["lines"]["fax1"]["state"] == state
        assert health["checks"]["lines"]["fax1"]["ok"] is state.in_service


def _notice(store: Store, to: OutboxState) -> int:
    box = OutboxStore(store)
    box.add([Notice(f"test:{to}", "smtp", "eve@example.com", {"to": "eve@example.com"})])

    def settle(done: bool) -> None:
        [item] = box.claim("w", 60)
        if done:
            box.done(item.id, "w")
        else:
            box.failed(item.id, "w", "550 5.1.1 no such user", None)

    steps: dict[OutboxState, Callable[[], object]] = {
        OutboxState.PENDING: lambda: None,
        OutboxState.DONE: lambda: settle(True),
        OutboxState.DEAD: lambda: settle(False),
    }
    steps[to]()
    [item] = box.items(origin_prefix=f"test:{to}")
    assert item.state == to
    return item.id


@pytest.mark.parametrize("state", list(OutboxState))
def test_a_notice_in_every_state(
    store: Store, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: OutboxState
) -> None:
    notice_id = _notice(store, state)
    config = tmp_path / "umfax.toml"
    config.write_text(f'[server]\ndata_dir = "{tmp_path / "data"}"\n[store]\nurl = "{store_url}"\n')
    monkeypatch.delenv("UMFAX_CONFIG", raising=False)
    args = ["outbox", "--json", "--state", state.value, "--config", str(config)]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    [shown] = json.loads(result.stdout)
    assert (shown["id"], shown["state"]) == (notice_id, state)
    schemas.validate("notice", shown)
