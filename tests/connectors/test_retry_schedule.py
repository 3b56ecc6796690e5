"""The retry schedule IMAP and EWS keep for messages that could not be accepted."""

from __future__ import annotations

import time

from connectors.intake_thread import RetrySchedule


def doubling(attempts: int) -> float:
    return 10.0 * 2 ** (attempts - 1)


def test_a_failed_message_waits_doubling_delays_and_is_forgotten_when_gone() -> None:
    retries = RetrySchedule()
    now = time.monotonic()
    assert retries.due("a", now) and len(retries) == 0 and retries.next_due() is None
    assert retries.failed("a", doubling, store_failure=False) == (1, 10.0)
    assert retries.failed("a", doubling, store_failure=False) == (2, 20.0)
    assert not retries.due("a", time.monotonic()) and retries.due("a", time.monotonic() + 21)
    assert retries.due("b", time.monotonic())  # others are not held back
    due = retries.next_due()
    assert due is not None and 19 < due - time.monotonic() <= 20
    retries.keep_only({"b"})  # "a" left the folder
    assert len(retries) == 0 and retries.next_due() is None


def test_a_store_failure_holds_every_message() -> None:
    retries = RetrySchedule()
    retries.failed("a", doubling, store_failure=True)
    assert retries.held(time.monotonic()) and not retries.held(time.monotonic() + 11)
    retries.forget("a")
    due = retries.next_due()  # the hold alone still decides when to look again
    assert due is not None and 9 < due - time.monotonic() <= 10
