"""One path from a mail message to fax jobs, for every mail connector (IMAP, SMTP, EWS…).

A connector hands over the raw message and where it came from (:class:`MailRef`);
:meth:`MailIntake.accept` parses it, checks the sender, and commits one job per fax
recipient together with a record of the message, all in one transaction.  Only when
``accept`` has returned may the connector flag, move or acknowledge the message.  If
it raises :class:`~umfax.errors.StoreError` nothing was committed: leave the message
where it is and try again later.  A message seen before (same connector mailbox,
UIDVALIDITY and UID, or same Message-ID from the same sender) returns
``Outcome.DUPLICATE`` with the jobs made the first time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesHeaderParser
from email.utils import parseaddr

from umfax.config import Config, MailIntakeConfig, SmtpConnectorConfig
from umfax.errors import InvalidNumber, MailError, describe_error
from umfax.mail.addresses import FaxAddress, parse_fax_address
from umfax.mail.authorize import Authorizer, Verdict
from umfax.mail.message import MailFax, parse_message
from umfax.mail.ports import IntakeResult, MailRef, Outcome
from umfax.store import DocumentIn, JobSpec, Store
from umfax.store.mail import MailRecord, MailStore
from umfax.store.models import MailMessage
from umfax.store.outbox import Notice
from umfax.submit import FaxRequest, JobBuilder

logger = logging.getLogger(__name__)

MAX_COMMENTS = 4000
#: Fax recipients one message may have: more is a mistake or abuse, not a fax.
MAX_RECIPIENTS = 50
NO_RECIPIENT = (
    "no fax recipient: address the fax as NUMBER@{domain} (e.g. 12125550110@{domain}), "
    "or pick a fax contact in Outlook"
)


class MailIntake:
    """Turns mail into committed fax jobs for one connector.  Thread-safe."""

    def __init__(self, store: Store, config: Config, connector: MailIntakeConfig, label: str) -> None:
        self.store = store
        self.mail_store = MailStore(store)
        self.config = config
        self.connector = connector
        self.label = label
        self.authorizer = Authorizer(connector, config.users)
        self.builder = JobBuilder(config)  # the same numbers, rules and defaults as every front end

    # -- SMTP's RCPT check ---------------------------------------------------------------

    def check_recipient(self, address: str) -> str | None:
        """None when ``address`` is a fax address we would dial; else why not."""
        fax = parse_fax_address(address, fax_domains=self.config.mail.fax_domains)
        if fax is None:
            domains = ", ".join(self.config.mail.fax_domains) or "(none configured)"
            return f"<{address}> is not a fax address here (fax domains: {domains})"
        try:
            self.builder.destination(fax.number)
        except InvalidNumber as exc:
            return describe_error(exc)
        return None

    # -- the message ------------------------------------------------------------------------

    def accept(self, raw: bytes, ref: MailRef) -> IntakeResult:
        try:
            mail = parse_message(
                raw,
                fax_domains=self.config.mail.fax_domains,
                envelope_recipients=ref.envelope_to or None,
            )
        except MailError as exc:
            return self._unparsable(raw, ref, describe_error(exc))
        earlier = self.mail_store.seen(position=ref.key, sender=mail.sender, message_id=mail.message_id)
        if earlier is not None:
            return self._duplicate(earlier, ref)
        if "@" not in mail.sender:
            return self._invalid(mail, ref, "the message has no sender address (From)")
        verdict = self.authorizer.check(mail)
        if not verdict.allowed:
            return self._refuse(mail, ref, verdict)
        return self._queue(mail, ref, verdict)

    def _queue(self, mail: MailFax, ref: MailRef, verdict: Verdict) -> IntakeResult:
        documents = [DocumentIn(a.filename, a.data, a.content_type) for a in mail.attachments]
        body = mail.body_text.strip()
        comments = ""
        if body and (self.connector.body == "page" or not documents):
            documents.insert(0, DocumentIn("message.txt", body.encode("utf-8"), "text/plain; charset=utf-8"))
        elif body and self.connector.body == "cover":
            comments = body[:MAX_COMMENTS]
        problems: list[str] = []
        if len(mail.recipients) > MAX_RECIPIENTS:
            return self._invalid(
                mail,
                ref,
                f"the message has {len(mail.recipients)} fax recipients; at most {MAX_RECIPIENTS} "
                "are faxed from one message: split the list, or ask for a broadcast job",
            )
        if not mail.recipients:
            problems.append(NO_RECIPIENT.format(domain=self._example_domain()))
        if not documents:
            problems.append("there is nothing to fax: attach the documents (PDF, text, images, office files)")
        specs: list[tuple[JobSpec, list[DocumentIn]]] = []
        for fax in mail.recipients:
            try:
                spec = self._spec(mail, verdict, fax, documents, comments)
            except InvalidNumber as exc:
                problems.append(f"{fax.written}: {describe_error(exc)}")
                continue
            specs.append((spec, documents))
        if not specs or not documents:
            return self._invalid(mail, ref, "; ".join(problems))
        reason = "; ".join(problems)
        notices = []
        if problems and self._may_reply(mail, forged=False):
            notices.append(self._reply_notice(mail, "partial", reason))
        message, ours = self.mail_store.record(
            MailRecord(
                connector=self.label,
                position=ref.key,
                message_id=mail.message_id,
                sender=mail.sender,
                subject=mail.subject,
                outcome=Outcome.QUEUED.value,
                reason=reason,
                replied=bool(notices),
            ),
            specs if documents else [],
            notices,
        )
        if not ours:
            return self._duplicate(message, ref)
        logger.info(
            "mail queued",
            extra={
                "connector": self.label,
                "sender": mail.sender,
                "jobs": message.job_ids,
                "mail": message.id,
            },
        )
        return IntakeResult(Outcome.QUEUED, tuple(message.job_ids), reason)

    def _spec(
        self, mail: MailFax, verdict: Verdict, fax: FaxAddress, documents: list[DocumentIn], comments: str
    ) -> JobSpec:
        """The job for one fax recipient: a request built from the mail, made a job by
        the builder every front end uses (raises ``InvalidNumber`` for a bad number)."""
        user = verdict.user
        user_row = self.store.find_user(email=mail.sender) if user is not None else None
        request = FaxRequest(
            number=fax.number,
            documents=documents,
            recipient_name=fax.name,
            sender=mail.sender,
            user_id=user_row.id if user_row is not None else None,
            subject=verdict.subject or mail.subject,
            comments=comments,
            source=self.label.split(":", 1)[0] if ":" in self.label else self.label,
            notify={
                "email": mail.reply_to or mail.sender,
                "name": mail.sender_name,
                "user": user.name if user is not None else "",
                "subject": mail.subject,
                "message_id": mail.message_id,
                "connector": self.label,
                "reports": user.reports if user is not None else "always",
            },
        )
        return self.builder.spec(request)

    def _example_domain(self) -> str:
        return self.config.mail.fax_domains[0] if self.config.mail.fax_domains else "fax.example.com"

    # -- refusals ---------------------------------------------------------------------------

    def _may_reply(self, mail: MailFax, *, forged: bool) -> bool:
        if forged or mail.automatic or not self.connector.refusal_replies:
            return False
        if isinstance(self.connector, SmtpConnectorConfig):
            return False  # our 5xx answer comes back to the sender as the relay's bounce
        if mail.return_path == "" or not mail.sender:
            return False
        if self.config.mail.replies_per_hour <= 0 or not self.config.mail.smtp_host:
            return False
        since = datetime.now(UTC) - timedelta(hours=1)
        return self.mail_store.replies_since(mail.sender, since) < self.config.mail.replies_per_hour

    def _reply_notice(self, mail: MailFax, kind: str, reason: str) -> Notice:
        return Notice(
            origin=f"mail:{{mail}}:{kind}",
            channel="smtp",
            target=mail.sender,
            payload={
                "kind": "refusal" if kind != "partial" else "partial",
                "to": mail.sender,
                "reason": reason,
                "subject": mail.subject,
                "in_reply_to": mail.message_id,
            },
        )

    def _refuse(self, mail: MailFax, ref: MailRef, verdict: Verdict) -> IntakeResult:
        return self._close(mail, ref, Outcome.REFUSED, verdict.reason, forged=verdict.forged)

    def _invalid(self, mail: MailFax, ref: MailRef, reason: str) -> IntakeResult:
        return self._close(mail, ref, Outcome.INVALID, reason, forged=False)

    def _close(
        self, mail: MailFax, ref: MailRef, outcome: Outcome, reason: str, *, forged: bool
    ) -> IntakeResult:
        reply = self._may_reply(mail, forged=forged)
        notices = [self._reply_notice(mail, outcome.value, reason)] if reply else []
        message, ours = self.mail_store.record(
            MailRecord(
                connector=self.label,
                position=ref.key,
                message_id=mail.message_id,
                sender=mail.sender,
                subject=mail.subject,
                outcome=outcome.value,
                reason=reason,
                replied=reply,
            ),
            (),
            notices,
        )
        if not ours:
            return self._duplicate(message, ref)
        logger.warning(
            "mail not faxed",
            extra={
                "connector": self.label,
                "sender": mail.sender,
                "outcome": outcome.value,
                "reason": reason,
            },
        )
        return IntakeResult(outcome, (), reason)

    def _unparsable(self, raw: bytes, ref: MailRef, reason: str) -> IntakeResult:
        """A message we cannot parse: record it from what headers we can read."""
        headers = BytesHeaderParser(policy=policy.default).parsebytes(raw[:65536])
        sender = ""
        try:
            sender = parseaddr(str(headers.get("From", "")))[1].lower()
        except Exception:  # header defects: keep the sender unknown
            sender = ""
        message_id = str(headers.get("Message-ID", "") or "").strip().strip("<>")[:500]
        earlier = self.mail_store.seen(position=ref.key, sender=sender, message_id=message_id)
        if earlier is not None:
            return self._duplicate(earlier, ref)
        automatic = (
            any(h in headers for h in ("Auto-Submitted", "List-Id"))
            or str(headers.get("Return-Path", "x")).strip() == "<>"
        )
        stub = MailFax(
            message_id=message_id,
            sender=sender,
            sender_name="",
            reply_to="",
            return_path=None,
            subject=str(headers.get("Subject", ""))[:500],
            date=None,
            recipients=[],
            other_recipients=[],
            body_text="",
            attachments=[],
            authentication_results=[],
            automatic=automatic,
            notes=[],
        )
        return self._close(stub, ref, Outcome.INVALID, reason, forged=not sender)

    def _duplicate(self, earlier: MailMessage, ref: MailRef) -> IntakeResult:
        logger.info(
            "mail seen before",
            extra={"connector": self.label, "mail": earlier.id, "position": ref.key, "jobs": earlier.job_ids},
        )
        return IntakeResult(Outcome.DUPLICATE, tuple(earlier.job_ids), earlier.reason)
