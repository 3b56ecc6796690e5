"""The Microsoft Graph connector against a fake Graph + token endpoint (tests/servers/graph.py)
over HTTP, bearer tokens and the client secret really checked; the store on SQLite and
PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.graph import GraphIntake
from tests.mail import corpus
from tests.mailflow.messages import fax_mail
from tests.servers.graph import GraphServer
from umfax.config import Config, GraphConnectorConfig, parse_config
from umfax.errors import ConnectorError
from umfax.mail.intake import MailIntake
from umfax.store import Store

CLIENT_ID = "6f1c2a9e-0b7d-4c1e-9a55-3d2f1e0c7b11"
SECRET = "Graph~Secret.2026"
FAX_BOX = "fax@allowed.example"
ALICE = "alice@allowed.example"


@pytest.fixture
def graph(monkeypatch: pytest.MonkeyPatch) -> Iterator[GraphServer]:
    monkeypatch.setenv("UMFAX_TEST_GRAPH_SECRET", SECRET)
    with GraphServer(CLIENT_ID, SECRET) as server:
        server.mailbox(FAX_BOX)
        yield server


def config(graph: GraphServer, **connector: Any) -> Config:
    return parse_config(
        {
            "mail": {"fax_domains": list(corpus.FAX_DOMAINS)},
            "connectors": [
                {
                    "type": "graph",
                    "name": "graph:fax",
                    "mailbox": FAX_BOX,
                    "tenant_id": graph.tenant,
                    "client_id": CLIENT_ID,
                    "client_secret_env": "UMFAX_TEST_GRAPH_SECRET",
                    "authority_host": graph.authority,
                    "graph_url": graph.graph_url,
                    "allowed_senders": ["@allowed.example"],
                    "poll_interval": 0.1,
                    "refusal_replies": False,
                }
                | connector
            ],
            "users": [{"name": "alice", "email": ALICE}],
        }
    )


def intake_for(store: Store, cfg: Config) -> GraphIntake:
    connector = cfg.connectors[0]
    assert isinstance(connector, GraphConnectorConfig)
    store.sync_users([("alice", ALICE, "Alice", None, True)])
    mail = MailIntake(store, cfg, connector, connector.label)
    return GraphIntake(connector, mail.accept, backoff_start=0.05)


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_outlook_fax_contacts_become_jobs_and_messages_move_after_commit(
    store: Store, graph: GraphServer
) -> None:
    box = graph.mailbox(FAX_BOX)
    graph.deliver(FAX_BOX, corpus.message("outlook_2016_imceafax"))
    graph.deliver(
        FAX_BOX, fax_mail(to='"Bob" <[FAX:Bob Builder@+1 (212) 555-0110]>', sender=ALICE, subject="B")
    )
    graph.deliver(FAX_BOX, fax_mail(to="12125550113@fax.example.com", sender=ALICE, subject="C"))
    graph.throttle["delta"] = 1  # a 429 with Retry-After first
    intake = intake_for(store, config(graph))
    intake.start()
    try:
        wait_for(lambda: len(box.raws_in("Faxed")) == 3)
        graph.revoke()  # the token expires: one new token, and on
        graph.deliver(FAX_BOX, fax_mail(to="12125550114@fax.example.com", sender=ALICE, subject="D"))
        wait_for(lambda: len(box.raws_in("Faxed")) == 4)
    finally:
        intake.stop()
    jobs = sorted((j.number, j.recipient_name, j.sender) for j in store.list_jobs())
    assert jobs == [
        ("+12125550110", "Bob Builder", ALICE),
        ("+12125550111", "Jane Doe", ALICE),
        ("+12125550112", "Acme Billing", ALICE),
        ("+12125550113", "", ALICE),
        ("+12125550114", "", ALICE),
    ]
    assert box.raws_in("Inbox") == [] and box.raws_in("Refused") == []
    assert box.subjects_in("Faxed") == ["B", "C", "D", "Invoice 7781 and site photo"]
    paths = [(m, p) for m, p, _ in graph.calls]
    assert ("POST", f"/v1.0/users/{FAX_BOX}/mailFolders") in paths  # Faxed and Refused created
    assert any(p.endswith("/messages/delta") and s == 429 for _, p, s in graph.calls)
    assert sum(1 for m, p, _ in graph.calls if p.endswith("/oauth2/v2.0/token")) == 2
    assert any(p.endswith("/$value") for _, p in paths)
    health = intake.health().as_dict()
    assert health["handled"] == 4 and health["failures"] == 0


def test_an_unauthorised_sender_is_refused_into_the_refused_folder(store: Store, graph: GraphServer) -> None:
    box = graph.mailbox(FAX_BOX)
    graph.deliver(
        FAX_BOX, fax_mail(to="12125550110@fax.example.com", sender="eve@elsewhere.example", subject="S")
    )
    graph.deliver(FAX_BOX, fax_mail(to="12125550111@fax.example.com", sender=ALICE, subject="Good"))
    intake = intake_for(store, config(graph))
    intake.start()
    try:
        wait_for(lambda: box.raws_in("Inbox") == [])
    finally:
        intake.stop()
    assert box.subjects_in("Refused") == ["S"] and box.subjects_in("Faxed") == ["Good"]
    assert [j.number for j in store.list_jobs()] == ["+12125550111"]


def test_a_wrong_secret_gives_a_clear_error_and_touches_nothing(
    store: Store, graph: GraphServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = graph.mailbox(FAX_BOX)
    graph.deliver(FAX_BOX, fax_mail(to="12125550110@fax.example.com", sender=ALICE))
    monkeypatch.setenv("UMFAX_TEST_GRAPH_SECRET", "wrong-secret")
    intake = intake_for(store, config(graph))
    with pytest.raises(ConnectorError) as info:
        intake.check()
    message = str(info.value)
    assert f"token for client {CLIENT_ID}" in message and "invalid_client" in message
    assert "UMFAX_TEST_GRAPH_SECRET" in message and "wrong-secret" not in message
    intake.start()
    try:
        wait_for(lambda: "invalid_client" in intake.health().last_error)
    finally:
        intake.stop()
    assert len(box.raws_in("Inbox")) == 1 and store.list_jobs() == []
    assert all(p.endswith("/token") for _, p, _ in graph.calls)  # Graph itself never reached


def test_restart_between_commit_and_move_makes_one_job_per_message(store: Store, graph: GraphServer) -> None:
    box = graph.mailbox(FAX_BOX)
    for n in range(3):
        graph.deliver(FAX_BOX, fax_mail(to=f"1212555011{n}@fax.example.com", sender=ALICE, subject=f"m{n}"))
    cfg = config(graph)
    graph.failures["move"] = 1000  # every move fails (503): accept() commits, the message stays
    first = intake_for(store, cfg)
    first.start()
    try:
        wait_for(lambda: len(store.list_jobs()) >= 1 and first.health().last_error != "")
    finally:
        first.stop()  # "crash": committed, not moved
    assert len(store.list_jobs()) >= 1 and len(box.raws_in("Inbox")) == 3
    graph.failures.clear()
    second = intake_for(store, cfg)
    second.start()
    try:
        wait_for(lambda: len(box.raws_in("Faxed")) == 3)
    finally:
        second.stop()
    numbers = sorted(j.number for j in store.list_jobs())
    assert numbers == ["+12125550110", "+12125550111", "+12125550112"]  # none lost, none twice
