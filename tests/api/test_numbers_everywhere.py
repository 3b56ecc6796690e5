"""The same numbers, the same rules and the same refusals on every front end: the CLI, the
REST API, the Twilio-compatible API and mail (RCPT check and intake) all build jobs
through ``umfax.submit.JobBuilder``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import schemas
from tests.api.conftest import Api, StartApi
from tests.api.test_twilio_fax import twilio_session
from tests.mailflow.messages import DOMAIN, fax_mail
from umfax.cli.common import Exit
from umfax.cli.main import app
from umfax.mail.intake import MailIntake, MailRef, Outcome

DIAL_RULES = {"extensions": ["2XXX", "*9*"], "blocked": ["2999", "+1212555*"]}

#: (as written, stored number when accepted, else words of the refusal)
ACCEPTED = [
    ("+1 555 000 1002", "+15550001002"),  # possible, unknown to the metadata
    ("2001", "2001"),  # an extension, dialled as written
    ("*9*", "*9*"),
]
REFUSED = [
    ("555-12", "too short"),
    ("+999 123", "unknown country code"),
    ("+1 212 555 01000", "too long"),
    ("+1 212 555 0100 x12", "letters ('x')"),
    ("2999", "blocked by dial_rules.blocked ('2999')"),
    ("+1 212 555 0199", "blocked by dial_rules.blocked ('+1212555*')"),
    ("+44 20 7946 0000", "international"),
    ("sip:2001@pbx.example.com", "SIP address"),
]


def _mail_address(written: str) -> str:
    """The fax-domain address for ``written`` (mail local parts have no spaces)."""
    return f"{written.replace(' ', '')}@{DOMAIN}"


@pytest.fixture
def pbx_api(start_api: StartApi) -> Api:
    return start_api(
        allow_private_urls=True,
        extra={
            "dial_rules": DIAL_RULES,
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
        },
    )


def test_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UMFAX_CONFIG", raising=False)
    config = tmp_path / "umfax.toml"
    config.write_text(
        f'[server]\ndata_dir = "{tmp_path / "data"}"\n[fax]\ncover = false\n'
        '[dial_rules]\nextensions = ["2XXX", "*9*"]\nblocked = ["2999", "+1212555*"]\n'
    )
    memo = tmp_path / "memo.txt"
    memo.write_text("Hello\n")
    cli = CliRunner()
    for written, stored in ACCEPTED:
        result = cli.invoke(app, ["send", written, str(memo), "--json", "--config", str(config)])
        assert result.exit_code == 0, (written, result.output)
        job = json.loads(result.stdout)
        schemas.validate("job", job)
        assert job["number"] == stored
    for written, says in REFUSED:
        result = cli.invoke(app, ["send", written, str(memo), "--config", str(config)])
        assert result.exit_code == Exit.REFUSED, (written, result.output)
        assert says in " ".join(result.stderr.split()), (written, result.stderr)


def test_rest_api(pbx_api: Api) -> None:
    for written, stored in ACCEPTED:
        response = pbx_api.send(to=written)
        assert response.status_code == 202, (written, response.text)
        fax = response.json()
        schemas.validate("fax", fax)
        assert fax["number"] == stored
        listed = pbx_api.get("/api/v1/faxes", params={"to": written}).json()["faxes"]
        assert [f["id"] for f in listed] == [fax["id"]]
    for written, says in REFUSED:
        response = pbx_api.send(to=written)
        assert response.status_code == 422, (written, response.text)
        body = response.json()
        schemas.validate("api_error", body)
        assert body["error"]["code"] == "invalid_number" and says in body["error"]["message"], body


def test_twilio_api(pbx_api: Api, document_server: str) -> None:
    twilio = twilio_session(pbx_api)
    url = f"{pbx_api.url}/v1/Faxes"
    media = f"{document_server}/doc.txt"
    for written, stored in ACCEPTED:
        response = twilio.post(url, data={"To": written, "MediaUrl": media}, timeout=30)
        assert response.status_code == 201, (written, response.text)
        schemas.validate("twilio_fax", response.json())
        assert response.json()["to"] == stored
    for written, says in REFUSED:
        response = twilio.post(url, data={"To": written, "MediaUrl": media}, timeout=30)
        assert response.status_code == 400, (written, response.text)
        error = response.json()["error"]
        assert error["code"] == "21211" and says in error["message"], response.text


def test_mail(pbx_api: Api) -> None:
    config = pbx_api.config
    intake = MailIntake(pbx_api.store, config, config.connectors[0], "imap:faxbox")
    for n, (written, stored) in enumerate(ACCEPTED):
        address = _mail_address(written)
        assert intake.check_recipient(address) is None, address
        result = intake.accept(fax_mail(to=address), MailRef("imap:faxbox", "fax@h/INBOX", 1, n + 1))
        assert result.outcome is Outcome.QUEUED, (address, result.reason)
        assert [pbx_api.store.get_job(j).number for j in result.job_ids] == [stored]
    for n, (written, says) in enumerate(REFUSED):
        if written.startswith("sip:"):
            continue  # not a fax address: mail names a SIP destination in no form umfax reads
        address = _mail_address(written)
        reason = intake.check_recipient(address)
        assert reason is not None and says in reason, (address, reason)
        result = intake.accept(fax_mail(to=address), MailRef("imap:faxbox", "fax@h/INBOX", 1, 100 + n))
        assert result.outcome is Outcome.INVALID and says in result.reason, (address, result.reason)
