"""Reports render from plain records the dispatcher loads: no store needed to render one."""

from __future__ import annotations

from datetime import UTC, datetime

from umfax.config import parse_config
from umfax.lifecycle import FailureCause
from umfax.notifications import reports
from umfax.notifications.facts import CallFacts, InboundFacts, JobFacts, JobReport, ReceivedFax

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONFIG = parse_config({"mail": {"from_address": "fax@example.com"}})


def failed_job() -> JobFacts:
    return JobFacts(
        id=7,
        state="failed",
        number="+12125550110",
        recipient_name="Bob",
        subject="Contract",
        page_count=3,
        pages_done=1,
        tries=3,
        dials=4,
        status="",
        last_cause=FailureCause.BUSY.value,
        created_at=AT,
        completed_at=AT,
        message_id="<orig@example.com>",
    )


def test_a_job_report_is_rendered_from_its_facts() -> None:
    call = CallFacts(
        line="modem1",
        started_at=AT,
        ended_at=AT,
        remote_id="BOB FAX",
        bit_rate=9600,
        encoding="mh",
        ecm=False,
        pages_sent=1,
        pages_total=3,
        result=FailureCause.BUSY.value,
        message="line busy",
    )
    out = reports.job_report(CONFIG, JobReport(failed_job(), [call], None), "ann@example.com", 5)
    message = out.message
    assert message["Subject"] == "Fax to +1 212-555-0110 (Bob) FAILED — Contract"
    assert message["In-Reply-To"] == "<orig@example.com>" and message["X-Fax-Job"] == "7"
    assert message["X-Fax-Status"] == "failed"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Pages confirmed before it stopped: 1 of 3." in text and "remote 'BOB FAX'" in text
    assert not list(message.iter_attachments())  # no first page given: no thumbnail


def test_a_received_fax_without_pages_is_rendered_from_its_facts() -> None:
    fax = InboundFacts(
        id=3,
        state="partial",
        line="modem1",
        caller_number="+12125550199",
        caller_name="ACME",
        called_number="",
        remote_id="ACME FAX",
        started_at=AT,
        ended_at=AT,
        pages=0,
        bit_rate=0,
        encoding="",
        ecm=False,
        result="no_carrier",
        message="the call dropped",
    )
    message = reports.inbound_fax(CONFIG, ReceivedFax(fax, []), "ann@example.com", 9).message
    assert message["Subject"] == "Fax from ACME (0 pages) — incomplete"
    assert message["X-Fax-Caller-Number"] == "+12125550199" and message["X-Fax-Status"] == "partial"
