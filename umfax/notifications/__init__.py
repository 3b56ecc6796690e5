"""Telling people what happened: status reports, received faxes and voice messages, refusal replies.

Producers add rows to the store's outbox in the transaction that decided them; the
:class:`~umfax.notifications.dispatch.Dispatcher` loads what each row needs, builds the
message (:mod:`~umfax.notifications.reports`, :mod:`~umfax.notifications.voicemail`, from
the plain records of
:mod:`~umfax.notifications.facts`) and hands it to a destination implementing one of
:mod:`~umfax.notifications.ports` (IMAP APPEND, SMTP, a folder, a webhook...), which
:mod:`umfax.composition` chose from the configuration.
"""
