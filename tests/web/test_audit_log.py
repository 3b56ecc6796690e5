"""The audit log keeps entries newest first, filtered and paged; unknown actions are refused."""

from __future__ import annotations

import pytest

from tests.web.conftest import Api
from umfax.store.audit import Audited, AuditLog


def test_entries_newest_first_filtered_and_paged(api: Api) -> None:
    log = AuditLog(api.store)
    for n in range(5):
        log.record(Audited("view", "ann@example.com", object_kind="inbound", object_id=n))
    log.record(Audited("signin", "bob@example.com", detail="x" * 900))
    newest = log.entries(limit=2)
    assert [e.action for e in newest] == ["signin", "view"] and len(newest[0].detail) == 500
    assert [e.object_id for e in log.entries(object_kind="inbound", object_id=3)] == [3]
    older = log.entries(before_id=newest[-1].id, limit=10)
    assert [e.object_id for e in older] == [3, 2, 1, 0]
    with pytest.raises(ValueError, match="unknown audit action"):
        log.record(Audited("peek", "ann@example.com"))
