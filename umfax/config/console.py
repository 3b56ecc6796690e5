"""``[console]``: the web console's sign-in (sessions, lockout, second factor, OpenID Connect)."""

from __future__ import annotations

from pydantic import Field

from umfax.config.section import Duration, _Section


class OidcProviderConfig(_Section):
    """``[[console.oidc]]``: an OpenID Connect provider people may sign in with; the
    address it vouches for is matched to a user's email."""

    name: str = Field(pattern=r"^[a-z0-9_-]{1,32}$")  # in the callback path /signin/oidc/NAME
    label: str = ""  # on the sign-in button; empty: the name
    issuer: str  # e.g. https://login.microsoftonline.com/TENANT/v2.0 or https://accounts.google.com
    client_id: str
    client_secret_env: str = ""  # environment variable holding the client secret


class ConsoleConfig(_Section):
    """How people sign in to the web console."""

    session_lifetime: Duration = 12 * 3600.0  # a session ends this long after sign-in
    idle_timeout: Duration = 2 * 3600.0  # ... or after this long without a request
    lockout_failures: int = Field(default=5, ge=1)  # failed sign-ins in a row that lock an account
    lockout_time: Duration = 15 * 60.0  # first lock; each further lock doubles it (up to a day)
    address_failures: int = Field(default=20, ge=1)  # failures from one address in lockout_time: refused
    failure_delay: Duration = 0.5  # answer to a failed sign-in slowed by this, times the failures in a row
    require_totp: bool = False  # everyone must set up a second factor (TOTP) at their next sign-in
    # Received faxes may be forwarded by email to any address typed in the inbox (through
    # [mail] smtp_host; audited).  false: only to other users.
    forward_by_email: bool = True
    oidc: list[OidcProviderConfig] = []
