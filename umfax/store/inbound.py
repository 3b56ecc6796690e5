"""Received faxes: a reception opens with the call, keeps each page as it arrives (so a
dropped call keeps what came), and closes received, partial, failed or quarantined; a
received fax's delivery notices to its users commit with its closing.

A voice call on a line that listens for voice is an inbound row of kind "voice": with a
message (its WAV in ``inbound_audio``, committed with the closing) it is received (or
quarantined) and delivered like a fax; rejected or forwarded, it closes failed with what
happened as its result."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select, update

from umfax.errors import InvalidTransition, NotFound
from umfax.lifecycle import FailureCause
from umfax.states import InboundState
from umfax.store.base import StoreBase
from umfax.store.models import Inbound, InboundAudio, InboundPage, utcnow
from umfax.store.outbox import Notice, add_notices
from umfax.store.specs import AudioIn, PageIn


class InboundStore(StoreBase):
    """Received faxes and their pages; states per :class:`umfax.states.InboundState`."""

    @staticmethod
    def _move_inbound(fax: Inbound, target: InboundState) -> None:
        if not InboundState(fax.state).can_become(target):
            raise InvalidTransition(f"received fax {fax.id} is {fax.state}; it cannot become {target}")
        fax.state = target.value

    def start_inbound(
        self,
        line: str,
        *,
        caller_number: str = "",
        caller_name: str = "",
        called_number: str = "",
    ) -> Inbound:
        now = utcnow()
        with self.writing() as session:
            fax = Inbound(
                state=InboundState.RECEIVING.value,
                line=line,
                caller_number=caller_number,
                caller_name=caller_name,
                called_number=called_number,
                started_at=now,
            )
            session.add(fax)
            session.flush()
            self._event(
                session,
                "inbound_call",
                f"call from {caller_number or 'unknown'} on {line}",
                inbound_id=fax.id,
                line=line,
                at=now,
            )
            return fax

    def add_inbound_page(self, inbound_id: int, seq: int, page: PageIn, good: bool = True) -> None:
        """Store one received page at once, so a dropped call keeps what arrived."""
        now = utcnow()
        with self.writing() as session:
            session.add(
                InboundPage(
                    inbound_id=inbound_id,
                    seq=seq,
                    width=page.width,
                    length=page.length,
                    x_res=page.x_res,
                    y_res=page.y_res,
                    encoding=page.encoding,
                    good=good,
                    data=page.data,
                    received_at=now,
                )
            )
            session.execute(
                update(Inbound)
                .where(Inbound.id == inbound_id)
                .values(pages=Inbound.pages + 1)
                .execution_options(synchronize_session=False)
            )

    def finish_inbound(
        self,
        inbound_id: int,
        *,
        result: str,
        message: str = "",
        remote_id: str = "",
        bit_rate: int = 0,
        transport: str = "",
        encoding: str = "",
        ecm: bool = False,
        user_id: int | None = None,
        deliver_to: Sequence[str] = (),
        quarantine: str = "",
        kind: str = "fax",
        audio: AudioIn | None = None,
    ) -> Inbound:
        """Close a reception.  With pages (or, for ``kind`` "voice", ``audio``: the message,
        stored in this transaction), it is delivered to the users named in ``deliver_to``
        (outbox rows in this transaction); ``quarantine`` (a reason) keeps it from
        everyone instead."""
        now = utcnow()
        with self.writing() as session:
            fax = session.get(Inbound, inbound_id)
            if fax is None:
                raise NotFound(f"there is no received fax {inbound_id}")
            fax.kind = kind
            if audio is not None:
                session.add(InboundAudio(inbound_id=inbound_id, wav=audio.wav, seconds=audio.seconds))
            content = bool(fax.pages) or audio is not None
            fax.ended_at = now
            fax.result = result
            fax.message = message[:1000]
            fax.remote_id, fax.bit_rate, fax.encoding, fax.ecm = remote_id, bit_rate, encoding, ecm
            fax.transport = transport
            fax.user_id = user_id
            if quarantine and content:
                state = InboundState.QUARANTINED
                fax.message = quarantine[:1000]
            elif result == "ok":
                state = InboundState.RECEIVED
            else:
                state = InboundState.PARTIAL if content else InboundState.FAILED
            self._move_inbound(fax, state)
            if state is not InboundState.QUARANTINED and content:
                add_notices(
                    session,
                    [
                        Notice(f"inbound:{inbound_id}", "inbound", name, {"inbound": inbound_id})
                        for name in deliver_to
                    ],
                    now,
                )
            voice: dict[str, Any] = {"item": kind} if kind != "fax" else {}
            what = f"{fax.pages} page(s)"
            if kind != "fax":
                what = f"voice message of {audio.seconds:.0f} s" if audio is not None else "voice call"
            self._event(
                session,
                f"inbound_{fax.state}",
                f"{what} from {remote_id or fax.caller_number or 'unknown'}"
                + (f": {message}" if message and result != "ok" else ""),
                inbound_id=inbound_id,
                line=fax.line,
                at=now,
                result=result,
                users=list(deliver_to),
                quarantine=quarantine,
                **voice,
            )
            return fax

    def recover_inbound(self, line_prefix: Sequence[str] | None = None) -> list[int]:
        """Close receptions left open by a crash; their stored pages are kept."""
        now = utcnow()
        with self.writing() as session:
            query = select(Inbound).where(Inbound.state == InboundState.RECEIVING)
            if line_prefix is not None:
                query = query.where(Inbound.line.in_(list(line_prefix)))
            ids = []
            for fax in session.scalars(query):
                self._move_inbound(fax, InboundState.PARTIAL if fax.pages else InboundState.FAILED)
                fax.result = FailureCause.INTERRUPTED.value
                fax.ended_at = now
                fax.message = "the server stopped during reception"
                self._event(
                    session, f"inbound_{fax.state}", fax.message, inbound_id=fax.id, line=fax.line, at=now
                )
                ids.append(fax.id)
            return ids

    def list_inbound(self, limit: int = 200) -> list[Inbound]:
        with self.reading() as session:
            return list(session.scalars(select(Inbound).order_by(Inbound.id.desc()).limit(limit)))

    def get_inbound(self, inbound_id: int) -> Inbound:
        with self.reading() as session:
            fax = session.get(Inbound, inbound_id)
            if fax is None:
                raise NotFound(f"there is no received fax {inbound_id}; `umfax inbox` lists them")
            return fax

    def inbound_pages(self, inbound_id: int) -> list[InboundPage]:
        with self.reading() as session:
            return list(
                session.scalars(
                    select(InboundPage).where(InboundPage.inbound_id == inbound_id).order_by(InboundPage.seq)
                )
            )

    def inbound_audio(self, inbound_id: int) -> InboundAudio | None:
        """A voice message's audio (WAV and seconds), or None (a fax, or no message)."""
        with self.reading() as session:
            return session.get(InboundAudio, inbound_id)

    def inbound_seconds(self, inbound_ids: Iterable[int]) -> dict[int, float]:
        """The length of each of these received items that has audio (without reading it)."""
        ids = list(inbound_ids)
        if not ids:
            return {}
        with self.reading() as session:
            rows = session.execute(
                select(InboundAudio.inbound_id, InboundAudio.seconds).where(InboundAudio.inbound_id.in_(ids))
            )
            return {inbound_id: seconds for inbound_id, seconds in rows}
