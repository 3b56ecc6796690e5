"""The command line on a real SQLite store (no server running)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import schemas
from umfax.cli.common import Exit
from umfax.cli.main import app


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("UMFAX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("UMFAX_CONFIG", raising=False)
    return CliRunner()


@pytest.fixture
def memo(tmp_path: Path) -> Path:
    path = tmp_path / "memo.txt"
    path.write_text("Please sign and fax back.\n")
    return path


def run(cli: CliRunner, *args: str, code: int = 0) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == code, result.output + (result.stderr if result.stderr_bytes else "")
    return result.stdout


def test_help_lists_every_command_and_exit_codes(cli: CliRunner) -> None:
    text = run(cli, "--help")
    for command in (
        "serve",
        "send",
        "jobs",
        "show",
        "cancel",
        "retry",
        "lines",
        "inbox",
        "outbox",
        "convert",
        "config",
        "apikey",
    ):
        assert command in text
    assert "Exit codes" in text


def test_send_queues_and_show_reports(cli: CliRunner, memo: Path) -> None:
    job = json.loads(
        run(cli, "send", "(212) 555-0100", str(memo), "--subject", "Contract", "--priority", "high", "--json")
    )
    schemas.validate("job", job)
    assert (job["state"], job["number"], job["priority"]) == ("pending", "+12125550100", 10)
    shown = json.loads(run(cli, "show", str(job["id"]), "--json"))
    schemas.validate("job", shown)
    assert shown["documents"][0]["filename"] == "memo.txt"
    assert [e["kind"] for e in shown["events"]] == ["accepted"]
    listed = json.loads(run(cli, "jobs", "--state", "pending", "--json"))
    assert [j["id"] for j in listed] == [job["id"]]
    assert json.loads(run(cli, "jobs", "--state", "sent", "--json")) == []
    assert "Contract" in run(cli, "show", str(job["id"]))


def test_text_with_brackets_is_shown_as_it_is(cli: CliRunner, memo: Path) -> None:
    """rich would read "[urgent]" or "[[users]]" as markup and drop it."""
    job = json.loads(
        run(
            cli,
            "send",
            "+12125550100",
            str(memo),
            "--subject",
            "[urgent] lease",
            "--to",
            "[legal] Ann",
            "--json",
        )
    )
    assert "[urgent] lease" in run(cli, "show", str(job["id"]))
    assert "[legal] Ann" in run(cli, "jobs")
    result = cli.invoke(app, ["apikey", "create", "nobody@example.com"])
    assert result.exit_code == Exit.NOT_FOUND, result.output
    assert "no [[users]] entry" in result.stderr and "Add the user to [[users]]" in result.stderr
    assert "[[users]] entry" in run(cli, "apikey", "create", "--help")
    assert "[fax].cover" in run(cli, "send", "--help")


def test_send_later(cli: CliRunner, memo: Path) -> None:
    job = json.loads(run(cli, "send", "+1 212 555 0100", str(memo), "--at", "+2h", "--json"))
    assert job["not_before"] > job["created_at"]


def test_invalid_and_forbidden_numbers_are_refused_at_once(cli: CliRunner, memo: Path) -> None:
    result = cli.invoke(app, ["send", "555-12", str(memo)])
    assert result.exit_code == Exit.REFUSED
    assert "not a valid fax number" in result.stderr
    result = cli.invoke(app, ["send", "+44 20 7946 0000", str(memo)])
    assert result.exit_code == Exit.REFUSED and "international" in result.stderr
    assert json.loads(run(cli, "jobs", "--json")) == []


def test_cancel_and_retry(cli: CliRunner, memo: Path) -> None:
    job = json.loads(run(cli, "send", "+12125550100", str(memo), "--json"))
    assert run(cli, "cancel", str(job["id"])).strip() == f"job {job['id']}: cancelled"
    result = cli.invoke(app, ["cancel", str(job["id"])])
    assert result.exit_code == Exit.REFUSED and "already cancelled" in result.stderr
    retried = json.loads(run(cli, "retry", str(job["id"]), "--json"))
    assert retried["state"] == "pending"
    assert json.loads(run(cli, "cancel", str(job["id"]), "--json"))["state"] == "cancelled"


def test_unknown_job(cli: CliRunner) -> None:
    result = cli.invoke(app, ["show", "42"])
    assert result.exit_code == Exit.NOT_FOUND and "umfax jobs" in result.stderr


def test_lines_before_any_server(cli: CliRunner) -> None:
    lines = json.loads(run(cli, "lines", "--json"))
    for line in lines:
        schemas.validate("line", line)
    assert [(line["name"], line["number"], line["state"]) for line in lines] == [
        ("sim1", "+12125550100", "unknown"),
        ("sim2", "+12125550101", "unknown"),
    ]


def test_lines_table_shows_what_a_server_reported(cli: CliRunner) -> None:
    from umfax.config import load_config
    from umfax.store import open_store

    store = open_store(load_config(None))
    store.set_line_state(
        "sim1", node="n1", port="sim:+12125550100", number="+12125550100", state="idle", detail="ready"
    )
    [reported] = store.line_states()
    store.close()
    since = reported.updated_at.astimezone().strftime("%H:%M:%S")
    table = run(cli, "lines")
    [sim1] = [row for row in table.splitlines() if row.lstrip().startswith("sim1")]
    assert "idle" in sim1 and since in sim1 and "ready" in sim1, table
    [sim2] = [row for row in table.splitlines() if row.lstrip().startswith("sim2")]
    assert "unknown" in sim2 and " - " in sim2, table


def test_inbox_empty(cli: CliRunner) -> None:
    assert json.loads(run(cli, "inbox", "--json")) == []


def test_config_check(cli: CliRunner, tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "config.example.toml"
    assert json.loads(run(cli, "config", "check", str(example), "--json"))["valid"] is True
    bad = tmp_path / "bad.toml"
    bad.write_text("[queue]\nmax_tries = -1\n")
    result = cli.invoke(app, ["config", "check", str(bad)])
    assert result.exit_code == Exit.CONFIG and "queue.max_tries" in result.stderr


def test_config_env_var_applies_to_every_command(
    cli: CliRunner, memo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "site.toml"
    config.write_text(f'[server]\ndata_dir = "{tmp_path / "site"}"\n[fax]\ndefault_country = "DE"\n')
    monkeypatch.setenv("UMFAX_CONFIG", str(config))
    job = json.loads(run(cli, "send", "030 901820", str(memo), "--json"))
    assert job["number"] == "+4930901820"
    assert (tmp_path / "site" / "umfax.db").exists()


def test_console_script_is_installed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "umfax", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "umfax" in result.stdout


def test_outbox_lists_notices_and_retries_a_dead_one(cli: CliRunner, memo: Path, tmp_path: Path) -> None:
    from umfax.config import load_config
    from umfax.store import open_store
    from umfax.store.outbox import Notice, OutboxStore

    store = open_store(load_config(None))
    box = OutboxStore(store)
    box.add([Notice("mail:1:refused", "smtp", "eve@x.example", {"to": "eve@x.example"})])
    [item] = box.claim("w", 60)
    box.failed(item.id, "w", "550 5.1.1 no such user", None)
    store.close()
    [dead] = json.loads(run(cli, "outbox", "--state", "dead", "--json"))
    schemas.validate("notice", dead)
    assert dead["last_error"] == "550 5.1.1 no such user" and dead["tries"] == 1
    assert "will be delivered again" in run(cli, "outbox", "--retry", str(dead["id"]))
    [again] = json.loads(run(cli, "outbox", "--json"))
    assert again["state"] == "pending"
    run(cli, "outbox", "--retry", "999", code=Exit.NOT_FOUND)
