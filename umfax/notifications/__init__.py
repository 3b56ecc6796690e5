"""Telling people what happened: status reports, received faxes, refusal replies.

Producers add rows to the store's outbox in the transaction that decided them; the
:class:`~umfax.notifications.dispatch.Dispatcher` builds each message
(:mod:`~umfax.notifications.reports`) and delivers it (IMAP APPEND, SMTP, a folder).
"""
