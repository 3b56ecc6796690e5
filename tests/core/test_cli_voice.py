"""`umfax inbox` with voice messages: listed beside faxes with their length, exported as WAV."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

import schemas
from tests.core.test_cli import cli, run  # noqa: F401  (the fixture)
from umfax.config import parse_config
from umfax.store import AudioIn, open_store
from umfax.voice import pcm_to_wav


def record_calls(tmp_path: Path) -> tuple[int, int]:
    store = open_store(parse_config({"server": {"data_dir": str(tmp_path / "data")}}))
    try:
        message = store.start_inbound("sip-1", caller_number="+16465550100", called_number="+12125550150")
        wav = pcm_to_wav(b"\x20\x00" * 8000 * 75)
        store.finish_inbound(message.id, result="ok", kind="voice", audio=AudioIn(wav, 75.0))
        rejected = store.start_inbound("sip-1", caller_number="+19175550100")
        store.finish_inbound(rejected.id, result="rejected", message="rejected", kind="voice")
        return message.id, rejected.id
    finally:
        store.close()


def test_inbox_lists_and_exports_voice_messages(cli: CliRunner, tmp_path: Path) -> None:  # noqa: F811
    run(cli, "inbox", "--json")  # creates the store
    message, rejected = record_calls(tmp_path)
    rows = json.loads(run(cli, "inbox", "--json"))
    for row in rows:
        schemas.validate("inbound", row)
    assert [(r["id"], r["kind"], r["seconds"]) for r in rows] == [
        (rejected, "voice", None),
        (message, "voice", 75.0),
    ]
    table = run(cli, "inbox")
    assert "voice 1:15" in table and "voice -" in table
    assert "-o voice" in run(cli, "inbox", str(message))
    out = tmp_path / "message.wav"
    run(cli, "inbox", str(message), "-o", str(out))
    assert out.read_bytes()[:4] == b"RIFF" and len(out.read_bytes()) == 44 + 2 * 8000 * 75
    assert "rejected" in run(cli, "inbox", str(rejected))
    run(cli, "inbox", str(rejected), "-o", str(tmp_path / "none.wav"), code=1)
