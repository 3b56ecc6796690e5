"""How umfax logs in to Exchange (EWS) and Microsoft Graph: shared by the mail connectors
and by delivery into users' mailboxes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import model_validator

from umfax.config.section import _Section


class EwsAccountConfig(_Section):
    """How umfax reaches an Exchange Server's EWS (the connector, and [mail.exchange])."""

    url: str = ""  # the EWS endpoint, https://mail.example.com/EWS/Exchange.asmx; empty: autodiscover
    username: str = ""  # DOMAIN\\user or user@domain (ntlm, basic)
    password_env: str = ""  # environment variable holding the password (ntlm, basic)
    auth: Literal["ntlm", "basic", "oauth"] = "ntlm"
    client_id: str = ""  # auth = "oauth": the app registration's client id ...
    tenant_id: str = ""  # ... its tenant ...
    client_secret_env: str = ""  # ... and the environment variable holding its secret
    impersonation: bool = True  # act as the mailbox owner (ApplicationImpersonation), else as a delegate
    tls_verify: bool = True
    ca_file: Path | None = None  # a CA bundle for a private CA

    @model_validator(mode="after")
    def _ews_credentials(self) -> EwsAccountConfig:
        if self.auth == "oauth":
            if not (self.client_id and self.tenant_id and self.client_secret_env):
                raise ValueError("auth = 'oauth' needs client_id, tenant_id and client_secret_env")
        elif not (self.username and self.password_env):
            raise ValueError(f"auth = {self.auth!r} needs username and password_env")
        if self.url and not re.match(r"^https?://", self.url):
            raise ValueError(f"url {self.url!r} is not an http(s) URL of the EWS endpoint")
        if self.url.startswith("http://") and self.auth == "basic":
            host = self.url.split("/")[2].rsplit(":", 1)[0]
            if host not in ("127.0.0.1", "localhost", "[::1]"):
                raise ValueError("auth = 'basic' over http:// sends the password in clear: use https")
        return self


class GraphAccountConfig(_Section):
    """How umfax reaches Microsoft Graph: an app registration, app-only (client credentials)."""

    tenant_id: str  # the Entra ID tenant (id or domain)
    client_id: str  # the app registration's client id
    client_secret_env: str  # the environment variable holding the app's client secret
    authority_host: str = "https://login.microsoftonline.com"  # Entra ID (msal's authority, https only)
    graph_url: str = "https://graph.microsoft.com/v1.0"  # Graph REST base URL
    tls_verify: bool = True
    ca_file: Path | None = None  # a CA bundle for a private CA (a proxy that inspects TLS)

    @model_validator(mode="after")
    def _graph_urls(self) -> GraphAccountConfig:
        if not self.authority_host.startswith("https://"):
            raise ValueError(f"authority_host {self.authority_host!r} is not an https URL (msal needs https)")
        if not re.match(r"^https?://", self.graph_url):
            raise ValueError(f"graph_url {self.graph_url!r} is not an http(s) URL")
        return self
