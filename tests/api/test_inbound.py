"""Received faxes over HTTP: a user sees those routed to them; an admin sees all."""

from __future__ import annotations

import requests

import schemas
from tests.api.conftest import Api
from umfax.conversion import tiff_to_pages
from umfax.conversion.pages import page_from_bitmap
from umfax.store import PageIn


def receive(api: Api, deliver_to: list[str], pages: int = 2) -> int:
    """A reception as the line worker records it."""
    import numpy as np

    fax = api.store.start_inbound("sim2", caller_number="+12125550100", called_number="+12125550101")
    for n in range(1, pages + 1):
        bitmap = np.zeros((200, 1728 // 8), dtype=np.uint8)
        bitmap[20 + n : 40 + n, 10:60] = 0xFF
        page = page_from_bitmap(bitmap, "mmr", 196.0)
        api.store.add_inbound_page(fax.id, n, PageIn(page.data, 1728, 200, 204.0, 196.0, "mmr"))
    api.store.finish_inbound(fax.id, result="ok", remote_id="ACME", deliver_to=deliver_to)
    return fax.id


def test_routed_faxes_only(api: Api) -> None:
    anns = receive(api, ["ann"])
    bobs = receive(api, ["bob"])
    page = api.get("/api/v1/inbound").json()
    schemas.validate("fax_list", page)
    assert [f["id"] for f in page["faxes"]] == [anns]
    schemas.validate("inbound", page["faxes"][0])
    assert [f["id"] for f in api.get("/api/v1/inbound", "root").json()["faxes"]] == [bobs, anns]
    assert api.get(f"/api/v1/inbound/{bobs}").status_code == 404
    assert api.get(f"/api/v1/inbound/{anns}").json()["remote_id"] == "ACME"


def test_download_a_received_fax(api: Api) -> None:
    fax = receive(api, ["ann"], pages=3)
    pdf = api.get(f"/api/v1/inbound/{fax}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    tiff = api.get(f"/api/v1/inbound/{fax}/tiff")
    assert tiff.status_code == 200 and len(tiff_to_pages(tiff.content)) == 3
    assert requests.get(f"{api.url}/api/v1/inbound/{fax}/pdf", timeout=10).status_code == 401


def voice_message(api: Api, deliver_to: list[str], seconds: float = 1.5) -> int:
    """A voice message as the line worker records it."""
    from umfax.store import AudioIn
    from umfax.voice import pcm_to_wav

    call = api.store.start_inbound("sip-1", caller_number="+16465550100", called_number="+12125550150")
    wav = pcm_to_wav(b"\x20\x00" * int(8000 * seconds))
    api.store.finish_inbound(
        call.id, result="ok", deliver_to=deliver_to, kind="voice", audio=AudioIn(wav, seconds)
    )
    return call.id


def test_voice_messages_beside_faxes(api: Api) -> None:
    fax = receive(api, ["ann"], pages=1)
    voice = voice_message(api, ["ann"])
    rejected = api.store.start_inbound("sip-1", caller_number="+16465550100").id
    api.store.finish_inbound(rejected, result="rejected", message="rejected", kind="voice")
    page = api.get("/api/v1/inbound", "root").json()
    schemas.validate("fax_list", page)
    for item in page["faxes"]:
        schemas.validate("inbound", item)
    by_id = {item["id"]: item for item in page["faxes"]}
    assert (by_id[fax]["kind"], by_id[fax]["seconds"]) == ("fax", None)
    assert (by_id[voice]["kind"], by_id[voice]["seconds"], by_id[voice]["pages"]) == ("voice", 1.5, 0)
    assert by_id[voice]["links"]["audio"].endswith(f"/api/v1/inbound/{voice}/audio")
    assert "pdf" not in by_id[voice]["links"] and "pdf" in by_id[fax]["links"]
    assert (by_id[rejected]["state"], by_id[rejected]["result"], by_id[rejected]["seconds"]) == (
        "failed",
        "rejected",
        None,
    )
    assert "audio" not in by_id[rejected]["links"]
    one = api.get(f"/api/v1/inbound/{voice}").json()
    assert (one["kind"], one["seconds"]) == ("voice", 1.5)
    assert [f["id"] for f in api.get("/api/v1/inbound").json()["faxes"]] == [voice, fax]  # ann's


def test_download_a_voice_message_scoped_like_a_fax(api: Api) -> None:
    import io
    import wave

    voice = voice_message(api, ["ann"], seconds=2.0)
    audio = api.get(f"/api/v1/inbound/{voice}/audio")
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    assert f'filename="voice-{voice}.wav"' in audio.headers["content-disposition"]
    with wave.open(io.BytesIO(audio.content)) as reader:
        assert (reader.getframerate(), reader.getsampwidth(), reader.getnchannels()) == (8000, 2, 1)
        assert reader.getnframes() == 16000
    assert api.get(f"/api/v1/inbound/{voice}/audio", "root").status_code == 200  # an admin
    assert api.get(f"/api/v1/inbound/{voice}/audio", "bob").status_code == 404  # not routed to bob
    assert api.get(f"/api/v1/inbound/{voice}", "bob").status_code == 404
    assert requests.get(f"{api.url}/api/v1/inbound/{voice}/audio", timeout=10).status_code == 401
    fax = receive(api, ["ann"], pages=1)
    no_audio = api.get(f"/api/v1/inbound/{fax}/audio")
    assert no_audio.status_code == 409 and no_audio.json()["error"]["code"] == "no_audio"
    assert api.get(f"/api/v1/inbound/{voice}/pdf").status_code == 409  # no pages
