"""``umfax user``: add, list, passwd, role, disable, enable, totp-reset, delete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from umfax.cli.main import app
from umfax.config import load_config
from umfax.store import open_store
from umfax.store.accounts import AccountStore
from umfax.store.web_sessions import SessionStore

PASSWORD = "a long enough password"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("UMFAX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("UMFAX_CONFIG", raising=False)
    monkeypatch.setenv("NEW_PASSWORD", PASSWORD)
    return CliRunner()


def run(cli: CliRunner, *args: str, code: int = 0, input: str | None = None) -> str:
    result = cli.invoke(app, list(args), input=input)
    assert result.exit_code == code, result.output + (result.stderr if result.stderr_bytes else "")
    return result.stdout + (result.stderr if result.stderr_bytes else "")


def accounts() -> AccountStore:
    return AccountStore(open_store(load_config(None)))


def test_user_commands(cli: CliRunner) -> None:
    assert "totp-reset" in run(cli, "user", "--help") and "user" in run(cli, "--help")
    assert "--password-env" in run(cli, "user", "add", "--help")
    run(cli, "user", "add", "carol", "carol@example.com", "--admin", input=f"{PASSWORD}\n{PASSWORD}\n")
    run(cli, "user", "add", "dave", "dave@example.com", "--password-env", "NEW_PASSWORD")
    assert "at least 10" in run(cli, "user", "add", "eve", "eve@example.com", input="short\nshort\n", code=5)
    assert "already exists" in run(
        cli, "user", "add", "carol", "c2@example.com", "--password-env", "NEW_PASSWORD", code=5
    )
    listed = {row["name"]: row for row in json.loads(run(cli, "user", "list", "--json"))}
    assert (
        listed["carol"]["role"] == "admin" and listed["dave"]["role"] == "user" and listed["dave"]["password"]
    )
    assert accounts().verify_password("carol", PASSWORD) is not None

    run(cli, "user", "role", "dave", "admin")
    assert accounts().get("dave").admin
    session = SessionStore(accounts().store).start(accounts().get("dave").user_id)
    run(cli, "user", "disable", "dave")
    assert accounts().get("dave").disabled and SessionStore(accounts().store).find(session.token) is None
    assert accounts().verify_password("dave", PASSWORD) is None
    run(cli, "user", "enable", "dave")
    assert accounts().verify_password("dave", PASSWORD) is not None

    accounts().set_totp_secret(accounts().get("dave").user_id, "JBSWY3DPEHPK3PXP")
    run(cli, "user", "totp-reset", "dave")
    assert not accounts().get("dave").has_totp

    run(cli, "user", "passwd", "dave@example.com", input="another long password\nanother long password\n")
    assert accounts().verify_password("dave", "another long password") is not None
    assert "no user" in run(cli, "user", "passwd", "nobody", "--password-env", "NEW_PASSWORD", code=4)

    key = json.loads(run(cli, "apikey", "create", "dave@example.com", "--json"))
    assert key["user"] == "dave" and key["key"].startswith("umf_")

    run(cli, "user", "delete", "dave", "--yes")
    assert accounts().find("dave") is None
    assert "carol" in run(cli, "user", "list") and "dave" not in run(cli, "user", "list")
