"""Who may fax by mail: allowed senders and domains, Authentication-Results, PINs."""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

from umfax.config import MailIntakeConfig, UserConfig, secret
from umfax.errors import ConfigError
from umfax.mail.auth_results import AuthResult
from umfax.mail.message import MailFax

PIN = re.compile(r"\bPIN[:\s]*([0-9]{4,12})\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reason: str = ""  # why not, in words for the sender
    user: UserConfig | None = None
    forged: bool = False  # the From address is not to be trusted: never reply to it
    subject: str = ""  # the subject with any PIN removed


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def _aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment (DMARC): same organisational domain, approximated by suffix."""
    domain = domain.lower().strip(".")
    return bool(domain) and (
        domain == from_domain or from_domain.endswith("." + domain) or domain.endswith("." + from_domain)
    )


def authenticated(results: Sequence[AuthResult], authserv_id: str, from_domain: str) -> bool:
    """Whether the trusted server's Authentication-Results vouch for the From domain:
    DMARC pass, or SPF or DKIM pass aligned with it."""
    trusted = [r for r in results if r.authserv_id.lower() == authserv_id.lower()]
    for r in trusted:
        result = r.result.lower()
        if r.method == "dmarc" and result == "pass":
            return True
        if r.method == "dkim" and result == "pass":
            signer = r.properties.get("header.d") or _domain(r.properties.get("header.i", ""))
            if _aligned(signer, from_domain):
                return True
        if r.method == "spf" and result == "pass":
            envelope = r.properties.get("smtp.mailfrom", "")
            if _aligned(_domain(envelope) if "@" in envelope else envelope, from_domain):
                return True
    return False


class Authorizer:
    def __init__(self, config: MailIntakeConfig, users: Sequence[UserConfig]) -> None:
        self.config = config
        self.users = {u.email.lower(): u for u in users}

    def check(self, mail: MailFax) -> Verdict:
        sender = mail.sender.lower()
        user = self.users.get(sender)
        subject = mail.subject
        if not sender or "@" not in sender:
            return Verdict(False, "the message has no sender address", forged=True)
        if self.config.require_authentication and not authenticated(
            mail.authentication_results, self.config.authserv_id, _domain(sender)
        ):
            return Verdict(
                False,
                f"the message could not be verified as coming from {sender} "
                "(no SPF, DKIM or DMARC pass from our mail server)",
                forged=True,
            )
        listed = sender in self.config.allowed_senders or "@" + _domain(sender) in self.config.allowed_senders
        if not (listed or (user is not None and user.can_send)):
            return Verdict(
                False,
                f"{sender} is not allowed to send faxes through this server; "
                "ask your fax administrator to add you",
            )
        if user is not None and not user.can_send:
            return Verdict(False, f"{sender} is not allowed to send faxes (can_send is off for your user)")
        if self.config.require_pin:
            found = PIN.search(subject)
            expected = self._pin(user)
            if expected is None:
                return Verdict(
                    False, f"faxing by mail needs a PIN and {sender} has none; ask your fax administrator"
                )
            if found is None or not hmac.compare_digest(found.group(1), expected):
                return Verdict(
                    False, "the PIN is missing or wrong: put 'PIN 1234' (your PIN) in the subject", user=user
                )
            subject = (subject[: found.start()] + subject[found.end() :]).strip(" :-")
        return Verdict(True, user=user, subject=subject)

    @staticmethod
    def _pin(user: UserConfig | None) -> str | None:
        if user is None or not user.pin_env:
            return None
        try:
            return secret(user.pin_env, f"users[{user.name}].pin_env")
        except ConfigError:
            return None
