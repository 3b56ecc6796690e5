"""Received faxes: a reception opens with the call, keeps each page as it arrives (so a
dropped call keeps what came), and closes received, partial, failed or quarantined; a
received fax's delivery notices to its users commit with its closing."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update

from umfax.errors import InvalidTransition, NotFound
from umfax.lifecycle import FailureCause
from umfax.states import InboundState
from umfax.store.base import StoreBase
from umfax.store.models import Inbound, InboundPage, utcnow
from umfax.store.outbox import Notice, add_notices
from umfax.store.specs import PageIn


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
    ) -> Inbound:
        """Close a reception.  With pages, the fax is delivered to the users named in
        ``deliver_to`` (outbox rows in this transaction); ``quarantine`` (a reason) keeps
        it from everyone instead."""
        now = utcnow()
        with self.writing() as session:
            fax = session.get(Inbound, inbound_id)
            if fax is None:
                raise NotFound(f"there is no received fax {inbound_id}")
            fax.ended_at = now
            fax.result = result
            fax.message = message[:1000]
            fax.remote_id, fax.bit_rate, fax.encoding, fax.ecm = remote_id, bit_rate, encoding, ecm
            fax.transport = transport
            fax.user_id = user_id
            if quarantine and fax.pages:
                state = InboundState.QUARANTINED
                fax.message = quarantine[:1000]
            elif result == "ok":
                state = InboundState.RECEIVED
            else:
                state = InboundState.PARTIAL if fax.pages else InboundState.FAILED
            self._move_inbound(fax, state)
            if state is not InboundState.QUARANTINED and fax.pages:
                add_notices(
                    session,
                    [
                        Notice(f"inbound:{inbound_id}", "inbound", name, {"inbound": inbound_id})
                        for name in deliver_to
                    ],
                    now,
                )
            self._event(
                session,
                f"inbound_{fax.state}",
                f"{fax.pages} page(s) from {remote_id or fax.caller_number or 'unknown'}"
                + (f": {message}" if message and result != "ok" else ""),
                inbound_id=inbound_id,
                line=fax.line,
                at=now,
                result=result,
                users=list(deliver_to),
                quarantine=quarantine,
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
