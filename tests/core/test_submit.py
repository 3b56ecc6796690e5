"""The one request-to-job builder every front end uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.mailflow.messages import DOMAIN, fax_mail
from umfax.config import Config, parse_config
from umfax.errors import InvalidNumber
from umfax.mail.intake import MailIntake, MailRef, Outcome
from umfax.store import DocumentIn, JobSpec, Store
from umfax.submit import FaxRequest, JobBuilder, submit_fax

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DOC = [DocumentIn("a.txt", b"hi", "text/plain")]


def config(**dial_rules: object) -> Config:
    return parse_config(
        {
            "fax": {"cover": False, "resolution": "standard", "paper": "a4"},
            "queue": {"kill_after": "2h", "max_tries": 5, "max_dials": 7},
            "dial_rules": dial_rules,
            "mail": {"fax_domains": [DOMAIN]},
            "connectors": [
                {
                    "type": "imap",
                    "name": "faxbox",
                    "host": "127.0.0.1",
                    "tls": "none",
                    "username": "fax",
                    "password_env": "UNUSED",
                    "allowed_senders": ["@example.com"],
                }
            ],
        }
    )


def test_defaults_come_from_the_configuration() -> None:
    spec = JobBuilder(config()).spec(FaxRequest("(212) 555-0100", DOC, source="web"), now=NOW)
    assert (spec.number, spec.number_as_given) == ("+12125550100", "(212) 555-0100")
    assert (spec.cover, spec.resolution, spec.paper) == (False, "standard", "a4")
    assert (spec.not_before, spec.kill_at) == (NOW, NOW + timedelta(hours=2))
    assert (spec.max_tries, spec.max_dials, spec.source, spec.notify) == (5, 7, "web", {})


def test_the_request_overrides_the_defaults_and_kill_time_counts_from_the_start() -> None:
    later = NOW + timedelta(hours=3)
    request = FaxRequest(
        "+1 212 555 0100", DOC, cover=True, resolution="fine", paper="letter", priority=10, send_at=later
    )
    spec = JobBuilder(config()).spec(request, now=NOW)
    assert (spec.cover, spec.resolution, spec.paper, spec.priority) == (True, "fine", "letter", 10)
    assert (spec.not_before, spec.kill_at) == (later, later + timedelta(hours=2))
    yesterday = NOW - timedelta(days=1)
    past = JobBuilder(config()).spec(FaxRequest("+12125550100", DOC, send_at=yesterday), now=NOW)
    assert past.kill_at == NOW + timedelta(hours=2)  # a start in the past does not shorten its life


def test_a_naive_start_time_is_local_time() -> None:
    local = datetime(2026, 3, 2, 18, 0)
    spec = JobBuilder(config()).spec(FaxRequest("+12125550100", DOC, send_at=local), now=NOW)
    assert spec.not_before == local.astimezone(UTC) and spec.not_before.tzinfo is UTC


def test_destinations_go_through_the_dial_rules() -> None:
    builder = JobBuilder(config(extensions=["2XXX"], blocked=["2999"]))
    assert builder.spec(FaxRequest("2001", DOC), now=NOW).number == "2001"
    with pytest.raises(InvalidNumber, match="blocked"):
        builder.spec(FaxRequest("2999", DOC), now=NOW)
    with pytest.raises(InvalidNumber, match="international"):
        builder.spec(FaxRequest("+44 20 7946 0000", DOC), now=NOW)


def test_submit_fax_and_mail_build_jobs_with_the_builder(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    original = JobBuilder.spec

    def spy(self: JobBuilder, request: FaxRequest, *, now: datetime | None = None) -> JobSpec:
        built.append(request.source)
        return original(self, request, now=now)

    monkeypatch.setattr(JobBuilder, "spec", spy)
    cfg = config()
    submit_fax(store, cfg, FaxRequest("+12125550100", DOC, source="api"))
    intake = MailIntake(store, cfg, cfg.connectors[0], "imap:faxbox")
    result = intake.accept(fax_mail(to=f"12125550110@{DOMAIN}"), MailRef("imap:faxbox", "fax@h/INBOX", 1, 1))
    assert result.outcome is Outcome.QUEUED
    assert built == ["api", "imap"]
    job = store.get_job(result.job_ids[0])
    made = (job.cover, job.resolution, job.paper, job.max_tries, job.max_dials)
    assert made == (False, "standard", "a4", 5, 7)
