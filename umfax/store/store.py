"""The store callers use: one object with every record family's operations.

Each family lives in its own module, all on the sessions and event writer of
:mod:`umfax.store.base`:

- jobs (submit, read, cancel, retry): :mod:`umfax.store.jobs`
- the job queue (claim, convert, send, finish): :mod:`umfax.store.queue`
- leases and recovery of jobs whose worker died: :mod:`umfax.store.recovery`
- received faxes: :mod:`umfax.store.inbound`
- lines' reported states: :mod:`umfax.store.lines`
- users: :mod:`umfax.store.users`
- the event log: :mod:`umfax.store.events`

Records kept beside these, each behind its own small class over a ``Store``: mail
messages (:mod:`umfax.store.mail`), the outbox (:mod:`umfax.store.outbox`), API keys
(:mod:`umfax.store.api_keys`) and connectors' state (:mod:`umfax.store.connector_state`).
"""

from __future__ import annotations

from umfax.store.events import EventLog
from umfax.store.inbound import InboundStore
from umfax.store.lines import LineStore
from umfax.store.recovery import JobRecovery
from umfax.store.users import UserStore


class Store(JobRecovery, InboundStore, LineStore, UserStore, EventLog):
    """All access to the store goes through here.  Thread-safe: one session per call;
    every method is one transaction, and every state change commits with its event."""
