"""Voice messages in the store: migration 0008 on a database that already holds faxes,
a message's audio beside its inbound row (delivered like a fax, deleted with it), and
voice calls that left no message."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import delete, select

from umfax.states import InboundState
from umfax.store import AudioIn, Store
from umfax.store.database import HEAD_REVISION, _alembic_config, current_revision, make_engine, upgrade
from umfax.store.models import Inbound, InboundAudio, Outbox
from umfax.voice import pcm_to_wav


def test_migration_0008_on_a_store_with_faxes(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(_alembic_config(engine), "0007")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO inbound (state, line, caller_number, caller_name, called_number, remote_id,"
            " started_at, pages, bit_rate, encoding, ecm, message, transport)"
            " VALUES ('received', 'sim1', '+12125550100', '', '', 'ACME', '2026-12-01 10:00:00',"
            " 1, 9600, 'mh', 0, '', '')"
        )
    upgrade(engine)
    assert current_revision(engine) == HEAD_REVISION
    store = Store(engine)
    [fax] = store.list_inbound()
    assert (fax.kind, fax.remote_id) == ("fax", "ACME")
    assert store.inbound_audio(fax.id) is None and store.inbound_seconds([fax.id]) == {}
    command.downgrade(_alembic_config(engine), "0007")  # and back
    command.upgrade(_alembic_config(engine), "head")
    store.close()


def voice_call(store: Store, **finish: object) -> Inbound:
    call = store.start_inbound("sip-1", caller_number="+12125550100", called_number="+12125550150")
    return store.finish_inbound(call.id, kind="voice", **finish)  # type: ignore[arg-type]


def test_a_message_is_stored_with_its_audio_and_delivered(store: Store) -> None:
    wav = pcm_to_wav(b"\x10\x00" * 24000)
    message = voice_call(
        store, result="ok", message="ended by hangup", deliver_to=["ann"], audio=AudioIn(wav, 1.5)
    )
    assert (message.state, message.kind, message.pages) == (InboundState.RECEIVED, "voice", 0)
    audio = store.inbound_audio(message.id)
    assert audio is not None and (audio.wav, audio.seconds) == (wav, 1.5)
    assert store.inbound_seconds([message.id, 999]) == {message.id: 1.5}
    with store.reading() as session:
        notices = [(o.origin, o.channel, o.target) for o in session.scalars(select(Outbox))]
    assert notices == [(f"inbound:{message.id}", "inbound", "ann")]
    [event] = [e for e in store.events(inbound_id=message.id) if e.kind == "inbound_received"]
    assert "voice message of 2 s" in event.message and event.data["item"] == "voice"


def test_quarantined_and_rejected_voice_calls_go_to_nobody(store: Store) -> None:
    silent = voice_call(
        store,
        result="ok",
        deliver_to=["ann"],
        quarantine="no speech in the message (voice.drop_silent)",
        audio=AudioIn(pcm_to_wav(b"\0\0" * 800), 0.1),
    )
    assert silent.state == InboundState.QUARANTINED and "no speech" in silent.message
    assert store.inbound_audio(silent.id) is not None  # kept
    rejected = voice_call(store, result="rejected", message="rejected", deliver_to=["ann"])
    assert (rejected.state, rejected.result, rejected.kind) == (InboundState.FAILED, "rejected", "voice")
    assert store.inbound_audio(rejected.id) is None
    with store.reading() as session:
        assert list(session.scalars(select(Outbox))) == []


def test_deleting_a_voice_message_deletes_its_audio(store: Store) -> None:
    message = voice_call(store, result="ok", audio=AudioIn(pcm_to_wav(b"\1\0" * 800), 0.1))
    with store.writing() as session:
        session.execute(delete(Inbound).where(Inbound.id == message.id))
    with store.reading() as session:
        assert list(session.scalars(select(InboundAudio))) == []
