"""The outbox and the mail record, on every backend: notices commit with what caused
them, are claimed once, retried and given up as told; a message is recorded once."""

from __future__ import annotations

import threading
from datetime import timedelta

from tests.store.test_contract import queued_job
from umfax.lifecycle import FailureCause, JobState
from umfax.store import CallOutcome, DocumentIn, JobSpec, PageIn, Store
from umfax.store.mail import MailRecord, MailStore
from umfax.store.models import utcnow
from umfax.store.outbox import Notice, OutboxStore

DOC = DocumentIn("memo.txt", b"hello\n", "text/plain")


def test_a_finished_job_owes_its_sender_a_report(store: Store) -> None:
    job_id = queued_job(store, pages=1, notify={"email": "ann@example.com"})
    claim = store.claim_send("n/1/l1", "l1", 60)
    assert claim is not None and claim.job.id == job_id
    outbox = OutboxStore(store)
    assert outbox.items() == []  # nothing owed while the job is live
    store.finish_send(claim, CallOutcome(cause=None, pages_sent=1))
    [item] = outbox.items()
    assert (item.channel, item.target, item.payload) == (
        "report",
        "ann@example.com",
        {"job": job_id, "state": "sent"},
    )


def test_reports_follow_the_senders_choice(store: Store) -> None:
    quiet = queued_job(
        store, pages=1, number="+12125550101", notify={"email": "a@x.example", "reports": "failure"}
    )
    store.finish_send(store.claim_send("n/1/l1", "l1", 60), CallOutcome(cause=None, pages_sent=1))  # type: ignore[arg-type]
    assert OutboxStore(store).items() == []
    assert store.get_job(quiet).state == JobState.SENT
    never = store.submit(
        JobSpec(number="+12125550102", notify={"email": "b@x.example", "reports": "never"}), [DOC]
    )
    store.cancel(never.id)
    failing = store.submit(
        JobSpec(number="+12125550103", notify={"email": "c@x.example", "reports": "failure"}), [DOC]
    )
    store.fail_job(failing.id, None, FailureCause.BAD_DOCUMENT, "cannot read x.doc")
    assert [(i.target, i.payload["state"]) for i in OutboxStore(store).items()] == [("c@x.example", "failed")]


def test_claim_is_exclusive_and_failures_retry_or_die(store: Store) -> None:
    outbox = OutboxStore(store)
    outbox.add([Notice(f"test:{n}", "smtp", f"u{n}@x.example", {"n": n}) for n in range(30)])
    outbox.add([Notice("test:0", "smtp", "u0@x.example", {"n": 0})])  # the same notice again: ignored
    taken: list[list[int]] = [[], [], []]

    def worker(n: int) -> None:
        while items := outbox.claim(f"w{n}", 60, limit=4):
            taken[n] += [i.id for i in items]

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i for part in taken for i in part]
    assert len(ids) == len(set(ids)) == 30
    first, second = (i for i in outbox.items()[:2])
    outbox.failed(first.id, first.claimed_by or "", "421 try later", utcnow() - timedelta(seconds=1))
    outbox.failed(second.id, second.claimed_by or "", "550 no such user", None)
    outbox.done(first.id, "somebody else")  # not the claimant: no effect
    [again] = outbox.claim("w9", 60, limit=10)
    assert again.id == first.id and again.tries == 2 and again.last_error == "421 try later"
    outbox.done(again.id, "w9")
    states = {i.id: i.state for i in outbox.items()}
    assert states[first.id] == "done" and states[second.id] == "dead"


def test_received_fax_is_routed_in_its_closing_transaction(store: Store) -> None:
    fax = store.start_inbound("l1", caller_number="+12125550199")
    store.add_inbound_page(fax.id, 1, PageIn(b"x", 1728, 10, 204, 98, "mh"))
    store.finish_inbound(fax.id, result="ok", deliver_to=["ann", "bob"])
    assert sorted(i.target for i in OutboxStore(store).items()) == ["ann", "bob"]
    junk = store.start_inbound("l1", caller_number="+19005550100")
    store.add_inbound_page(junk.id, 1, PageIn(b"x", 1728, 10, 204, 98, "mh"))
    closed = store.finish_inbound(junk.id, result="ok", deliver_to=["ann"], quarantine="junk caller")
    assert closed.state == "quarantined" and len(OutboxStore(store).items()) == 2
    empty = store.start_inbound("l1")
    assert store.finish_inbound(empty.id, result="no_carrier", deliver_to=["ann"]).state == "failed"
    assert len(OutboxStore(store).items()) == 2  # no pages, nothing to deliver


def test_a_message_is_recorded_once_with_its_jobs(store: Store) -> None:
    mail = MailStore(store)
    record = MailRecord(
        "imap:x", "imap:x|fax@h/INBOX|7|42", "abc@client.example", "ann@x.example", "Contract", "queued"
    )
    spec = JobSpec(number="+12125550100", source="imap")
    first, ours = mail.record(record, [(spec, [DOC]), (JobSpec(number="+12125550101", source="imap"), [DOC])])
    assert ours and len(first.job_ids) == 2
    assert {store.get_job(j).state for j in first.job_ids} == {JobState.PENDING}
    # the same message again, by position or by Message-ID from the same sender
    assert mail.seen(position=record.position, sender="", message_id="")
    moved = MailRecord(
        "imap:x", "imap:x|fax@h/INBOX|7|43", "abc@client.example", "ann@x.example", "Contract", "queued"
    )
    again, ours = mail.record(moved, [(spec, [DOC])])
    assert not ours and again.id == first.id and again.job_ids == first.job_ids
    assert len(store.list_jobs()) == 2  # the losing attempt committed nothing
    other = MailRecord(
        "imap:x", None, "abc@client.example", "eve@x.example", "Contract", "refused", "no", True
    )
    assert mail.record(other)[1]  # same Message-ID from another sender is another message
    assert mail.replies_since("EVE@x.example", utcnow() - timedelta(hours=1)) == 1
