"""The store's contract, run against every backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from umfax.errors import InvalidTransition, NotFound, StoreError
from umfax.lifecycle import FailureCause, JobState
from umfax.states import InboundState, LineState
from umfax.store import CallOutcome, DocumentIn, JobSpec, PageIn, Store

DOC = DocumentIn("memo.txt", b"Please find the contract attached.\n", "text/plain")


def page(seq: int) -> PageIn:
    return PageIn(data=f"page-{seq}".encode(), width=1728, length=2200, x_res=204, y_res=196, encoding="mmr")


def queued_job(store: Store, pages: int = 2, number: str = "+12125550100", **spec: object) -> int:
    job = store.submit(JobSpec(number=number, **spec), [DOC])  # type: ignore[arg-type]
    claimed = store.claim_conversion("node/1/convert", 60)
    assert claimed is not None and claimed[0].id == job.id
    store.finish_conversion(job.id, "node/1/convert", [page(i) for i in range(1, pages + 1)])
    return job.id


def kinds(store: Store, job_id: int) -> list[str]:
    return [event.kind for event in store.events(job_id=job_id)]


def test_submit_stores_job_documents_and_event(store: Store) -> None:
    job = store.submit(
        JobSpec(number="+12125550100", subject="Contract", sender="ann@example.com"),
        [DOC, DocumentIn("b.pdf", b"%PDF-1.4 ...")],
    )
    again = store.get_job(job.id)
    assert again.state == JobState.PENDING
    assert again.subject == "Contract"
    assert again.created_at.tzinfo is not None
    docs = store.documents(job.id)
    assert [d.filename for d in docs] == ["memo.txt", "b.pdf"]
    assert docs[0].data == DOC.data and docs[0].size == len(DOC.data)
    assert kinds(store, job.id) == ["accepted"]


def test_submit_without_documents_is_refused(store: Store) -> None:
    with pytest.raises(StoreError):
        store.submit(JobSpec(number="+12125550100"), [])


def test_same_source_reference_is_not_queued_twice(store: Store) -> None:
    spec = JobSpec(number="+12125550100", source="imap", source_ref="<abc@example.com>")
    first = store.submit(spec, [DOC])
    second = store.submit(spec, [DOC])
    assert first.id == second.id
    assert len(store.list_jobs()) == 1


def test_conversion_then_queued_with_pages(store: Store) -> None:
    job_id = queued_job(store, pages=3)
    job = store.get_job(job_id)
    assert job.state == JobState.QUEUED and job.page_count == 3
    assert [p.seq for p in store.pages(job_id)] == [1, 2, 3]
    assert kinds(store, job_id) == ["accepted", "converting", "converted"]


def test_claim_order_priority_then_age_and_not_before(store: Store) -> None:
    low = queued_job(store, priority=0, number="+12125550101")
    high = queued_job(store, priority=10, number="+12125550102")
    later = queued_job(
        store, priority=50, number="+12125550103", not_before=datetime.now(UTC) + timedelta(hours=1)
    )
    first = store.claim_send("node/1/l1", "l1", 60)
    second = store.claim_send("node/1/l2", "l2", 60)
    assert first is not None and second is not None
    assert (first.job.id, second.job.id) == (high, low)
    assert store.claim_send("node/1/l3", "l3", 60) is None  # `later` is not due
    assert store.get_job(later).state == JobState.QUEUED


def test_claim_for_number_takes_only_that_number(store: Store) -> None:
    other = store.submit(JobSpec(number="+12025550100"), [DOC])
    store.claim_conversion("w", 60)
    store.finish_conversion(other.id, "w", [page(1)])
    mine = queued_job(store)
    claim = store.claim_send("node/1/l1", "l1", 60, number="+12125550100")
    assert claim is not None and claim.job.id == mine


def test_success_records_attempt_details(store: Store) -> None:
    job_id = queued_job(store, pages=2)
    claim = store.claim_send("node/1/l1", "l1", 60, dialled="12125550100")
    assert claim is not None and [p.seq for p in claim.pages] == [1, 2]
    now = datetime.now(UTC)
    job = store.finish_send(
        claim,
        CallOutcome(
            cause=None,
            remote_id="+1 212 555 0100",
            bit_rate=14400,
            encoding="mmr",
            ecm=True,
            resolution="fine",
            pages_sent=2,
            connected_at=now,
            ended_at=now,
        ),
    )
    assert job.state == JobState.SENT and job.pages_done == 2 and job.completed_at is not None
    (attempt,) = store.attempts(job_id)
    assert (attempt.line, attempt.dialled, attempt.result) == ("l1", "12125550100", "ok")
    assert (attempt.remote_id, attempt.bit_rate, attempt.encoding, attempt.ecm) == (
        "+1 212 555 0100",
        14400,
        "mmr",
        True,
    )
    assert attempt.pages_sent == 2 and attempt.ended_at is not None
    assert kinds(store, job_id)[-2:] == ["dialling", "sent"]


def test_busy_is_retried_later_and_counts_a_dial(store: Store) -> None:
    job_id = queued_job(store)
    claim = store.claim_send("node/1/l1", "l1", 60)
    assert claim is not None
    job = store.finish_send(claim, CallOutcome(cause=FailureCause.BUSY))
    assert job.state == JobState.QUEUED
    assert (job.tries, job.dials) == (0, 1)
    assert job.not_before > datetime.now(UTC) + timedelta(minutes=2)
    assert store.claim_send("node/1/l1", "l1", 60) is None
    assert store.attempts(job_id)[0].result == "busy"


def test_retry_resends_only_unconfirmed_pages_then_gives_up(store: Store) -> None:
    job_id = queued_job(store, pages=5, max_tries=2)
    claim = store.claim_send("node/1/l1", "l1", 60)
    assert claim is not None
    store.finish_send(claim, CallOutcome(cause=FailureCause.LINE_DROPPED, pages_sent=3))
    job = store.retry(job_id)  # due now rather than in a minute
    assert job.state == JobState.QUEUED
    claim = store.claim_send("node/1/l1", "l1", 60)
    assert claim is not None and [p.seq for p in claim.pages] == [4, 5]
    job = store.finish_send(claim, CallOutcome(cause=FailureCause.PROTOCOL_ERROR, pages_sent=1))
    assert job.state == JobState.FAILED and job.tries == 2 and job.pages_done == 4
    assert "gave up after 2 tries" in job.status


def test_bad_document_fails_at_once(store: Store) -> None:
    job = store.submit(JobSpec(number="+12125550100"), [DOC])
    store.claim_conversion("w", 60)
    failed = store.fail_job(job.id, "w", FailureCause.BAD_DOCUMENT, "memo.pdf is encrypted")
    assert failed.state == JobState.FAILED and failed.last_cause == "bad_document"
    assert kinds(store, job.id)[-1] == "failed"


def test_concurrent_claims_never_take_a_job_twice(store: Store) -> None:
    ids = {queued_job(store, pages=1, number=f"+121255502{n:02d}") for n in range(40)}
    claimed: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        try:
            while True:
                claim = store.claim_send(f"node/1/l{n}", f"l{n}", 60)
                if claim is None:
                    return
                with lock:
                    claimed.append(claim.job.id)
                store.finish_send(claim, CallOutcome(cause=None, pages_sent=1))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert sorted(claimed) == sorted(ids)
    assert all(store.get_job(i).state == JobState.SENT for i in ids)


def test_crash_recovery_requeues_with_event_and_old_worker_cannot_finish(store: Store) -> None:
    job_id = queued_job(store)
    claim = store.claim_send("host/111/l1", "l1", 60)
    assert claim is not None
    recovered = store.recover(worker_prefix="host/", reason="umfax serve restarted")
    assert recovered == [job_id]
    job = store.get_job(job_id)
    assert job.state == JobState.QUEUED and job.tries == 1 and job.claimed_by is None
    assert store.attempts(job_id)[0].result == "interrupted"
    assert "interrupted" in kinds(store, job_id)
    with pytest.raises(InvalidTransition):
        store.finish_send(claim, CallOutcome(cause=None, pages_sent=2))


def test_expired_lease_is_recovered_but_live_one_is_not(store: Store) -> None:
    dead = queued_job(store, number="+12125550101")
    live = queued_job(store, number="+12125550102")
    claim_dead = store.claim_send("a/1/l1", "l1", 0.0)
    claim_live = store.claim_send("b/1/l2", "l2", 600)
    assert claim_dead is not None and claim_live is not None
    assert store.extend_leases("b/1/", 600) == 1
    assert store.recover() == [dead]
    assert store.get_job(live).state == JobState.SENDING


def test_kill_time_fails_waiting_jobs(store: Store) -> None:
    job_id = queued_job(store, kill_at=datetime.now(UTC) - timedelta(seconds=1))
    assert store.expire() == [job_id]
    assert store.get_job(job_id).state == JobState.FAILED


def test_cancel_waiting_and_live_jobs(store: Store) -> None:
    waiting = queued_job(store)
    live = queued_job(store)
    claim = store.claim_send("n/1/l1", "l1", 60)
    assert claim is not None
    other = waiting if claim.job.id == live else live
    assert store.cancel(other).state == JobState.CANCELLED
    assert store.cancel(claim.job.id).cancel_requested
    job = store.finish_send(claim, CallOutcome(cause=FailureCause.CANCELLED))
    assert job.state == JobState.CANCELLED
    with pytest.raises(InvalidTransition):
        store.cancel(claim.job.id)


def test_retry_failed_job(store: Store) -> None:
    job_id = queued_job(store, max_tries=1)
    claim = store.claim_send("n/1/l1", "l1", 60)
    assert claim is not None
    assert store.finish_send(claim, CallOutcome(cause=FailureCause.PROTOCOL_ERROR)).state == "failed"
    job = store.retry(job_id, by="admin")
    assert job.state == JobState.QUEUED and job.tries == 0
    assert store.claim_send("n/1/l1", "l1", 60) is not None


def test_unknown_job(store: Store) -> None:
    with pytest.raises(NotFound):
        store.get_job(999_999)


def test_inbound_pages_survive_a_dropped_call(store: Store) -> None:
    fax = store.start_inbound("l2", caller_number="+12025550100", called_number="+12125550101")
    for seq in (1, 2):
        store.add_inbound_page(fax.id, seq, page(seq))
    done = store.finish_inbound(
        fax.id, result="line_dropped", message="carrier lost on page 3", remote_id="+1 202 555 0100"
    )
    assert done.state == "partial" and done.pages == 2
    assert [p.seq for p in store.inbound_pages(fax.id)] == [1, 2]


def test_interrupted_reception_is_closed_at_start(store: Store) -> None:
    fax = store.start_inbound("l2")
    store.add_inbound_page(fax.id, 1, page(1))
    assert store.recover_inbound() == [fax.id]
    assert store.get_inbound(fax.id).state == "partial"


def test_a_closed_reception_stays_closed(store: Store) -> None:
    fax = store.start_inbound("l2")
    store.add_inbound_page(fax.id, 1, page(1))
    assert store.finish_inbound(fax.id, result="ok").state == InboundState.RECEIVED
    with pytest.raises(InvalidTransition):
        store.finish_inbound(fax.id, result="line_dropped")
    assert store.recover_inbound() == []
    assert store.get_inbound(fax.id).state == InboundState.RECEIVED


def test_a_line_reports_only_reported_states(store: Store) -> None:
    with pytest.raises(ValueError, match="not 'unknown'"):
        store.set_line_state("l1", node="n", port="sim:+12125550100", number="", state=LineState.UNKNOWN)
    assert store.line_states() == []


def test_line_states_and_event_on_change(store: Store) -> None:
    store.set_line_state(
        "l1", node="n", port="sim:+12125550100", number="+12125550100", state="idle", log=True
    )
    store.set_line_state(
        "l1", node="n", port="sim:+12125550100", number="+12125550100", state="idle", log=True
    )
    (row,) = store.line_states()
    assert row.state == "idle"
    assert [e.kind for e in store.events()] == ["line_state"]


def test_head_revision_constant_matches_alembic(store: Store) -> None:
    from alembic.script import ScriptDirectory

    from umfax.store.database import HEAD_REVISION, MIGRATIONS, _alembic_config, current_revision

    script = ScriptDirectory.from_config(_alembic_config(store.engine))
    assert script.get_current_head() == HEAD_REVISION
    assert current_revision(store.engine) == HEAD_REVISION
    assert MIGRATIONS.is_dir()


def test_release_returns_an_unreached_job_without_counting(store: Store) -> None:
    job_id = queued_job(store)
    claim = store.claim_send("n/1/l1", "l1", 60)
    assert claim is not None
    job = store.release(claim, "call ended before this job was reached")
    assert job.state == JobState.QUEUED and (job.tries, job.dials) == (0, 0)
    assert store.attempts(job_id)[0].result == "not_sent"
    assert store.claim_send("n/1/l1", "l1", 60) is not None


def test_a_line_never_takes_a_job_to_its_own_number(store: Store) -> None:
    queued_job(store)  # to +12125550100
    assert store.claim_send("n/1/l1", "l1", 60, not_to="+12125550100") is None
    assert store.claim_send("n/1/l2", "l2", 60, not_to="+12125550101") is not None


def test_one_call_at_a_time_per_number(store: Store) -> None:
    first, second = queued_job(store), queued_job(store)
    claim = store.claim_send("n/1/l1", "l1", 60)
    assert claim is not None and claim.job.id == first
    assert store.claim_send("n/1/l2", "l2", 60) is None  # the number is in a call on l1
    batched = store.claim_send("n/1/l1", "l1", 60, number="+12125550100")  # l1 may add it to its call
    assert batched is not None and batched.job.id == second
