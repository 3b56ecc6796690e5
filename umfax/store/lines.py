"""Lines: the state each line's worker last reported, for the CLI, the API and health checks."""

from __future__ import annotations

from sqlalchemy import select, update

from umfax.states import REPORTED_LINE_STATES, LineState
from umfax.store.base import StoreBase
from umfax.store.models import LineReport, utcnow


class LineStore(StoreBase):
    """The state each line last reported (:class:`umfax.states.LineState`)."""

    def set_line_state(
        self,
        name: str,
        *,
        node: str,
        port: str,
        number: str,
        state: str,
        detail: str = "",
        job_id: int | None = None,
        consecutive_failures: int = 0,
        registration: str = "",
        log: bool = False,
    ) -> None:
        """Record what line ``name``'s worker reports (a :class:`LineState` value); with
        ``log``, a change of state is also an event."""
        if state not in REPORTED_LINE_STATES:
            known = ", ".join(sorted(REPORTED_LINE_STATES))
            raise ValueError(f"a line reports one of {known}, not {str(state)!r}")
        state = LineState(state).value
        now = utcnow()
        with self.writing() as session:
            row = session.get(LineReport, name)
            if row is None:
                row = LineReport(name=name)
                session.add(row)
            changed = row.state != state
            row.node, row.port, row.number, row.state = node, port, number, state
            row.detail, row.job_id, row.updated_at = detail[:500], job_id, now
            row.consecutive_failures = consecutive_failures
            row.registration = registration[:200]
            if log and changed:
                self._event(
                    session, "line_state", f"{name}: {state} {detail}".strip(), line=name, at=now, state=state
                )

    def touch_lines(self, node: str) -> None:
        """Heartbeat: the lines of ``node`` are still served."""
        with self.writing() as session:
            session.execute(
                update(LineReport)
                .where(LineReport.node == node, LineReport.state != LineState.STOPPED)
                .values(updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )

    def line_states(self) -> list[LineReport]:
        with self.reading() as session:
            return list(session.scalars(select(LineReport).order_by(LineReport.name)))
