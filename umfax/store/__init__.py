"""The persistent store: jobs, pages, attempts, inbound faxes, users and events."""

from __future__ import annotations

from umfax.config import Config
from umfax.lifecycle import FailureCause, RetryRule
from umfax.store.database import make_engine, upgrade
from umfax.store.specs import AudioIn, CallOutcome, Claim, DocumentIn, JobSpec, PageIn
from umfax.store.store import Store

__all__ = ["AudioIn", "CallOutcome", "Claim", "DocumentIn", "JobSpec", "PageIn", "Store", "open_store"]


def open_store(config: Config, *, migrate: bool = True) -> Store:
    """Open (and migrate) the store the configuration names."""
    from umfax.lifecycle import DEFAULT_RULES

    engine = make_engine(config.database_url(), pool_size=config.store.pool_size)
    if migrate:
        upgrade(engine)
    delays = config.queue.retry.model_dump()
    rules = {
        cause: RetryRule(rule.retry, float(delays.get(cause.value, rule.delay)), rule.counts)
        for cause, rule in DEFAULT_RULES.items()
    }
    rules_typed: dict[FailureCause, RetryRule] = rules
    return Store(engine, retry_rules=rules_typed)
