"""[[users]] and [routing]: who uses umfax, and which of them a received fax goes to."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from umfax.config.section import _Section
from umfax.config.voice import GreetingPath, OptionalVoiceRule


class UserConfig(_Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    email: str
    display_name: str = ""
    mobile: str = ""  # E.164, for SMS alerts
    fax_numbers: list[str] = []  # DIDs: faxes to these numbers are routed to this user
    can_send: bool = True
    admin: bool = False
    pin_env: str = ""  # environment variable holding the user's PIN (when connectors require one)
    delivery: Literal["imap", "smtp", "folder", "exchange", "graph", "none"] = "smtp"  # faxes and reports
    imap_folder: str = "INBOX"  # with delivery = "imap"
    exchange_folder: str = "Inbox"  # with delivery = "exchange": "Inbox" or a path from the mailbox top
    graph_folder: str = "inbox"  # with delivery = "graph": a well-known name or a top-level display name
    folder: Path | None = None  # with delivery = "folder"
    reports: Literal["always", "failure", "never"] = "always"  # email status reports
    sms: Literal["always", "failure", "never"] = "failure"  # text messages to mobile ([twilio] needed)
    # Voice callers routed to this user: "voicemail", "reject" or "forward:<sip-uri>";
    # "": the matching route's, else [voice].action.  greeting: a WAV file they hear.
    voice: OptionalVoiceRule = ""
    greeting: GreetingPath = None

    @model_validator(mode="after")
    def _delivery(self) -> UserConfig:
        if "@" not in self.email:
            raise ValueError(f"email {self.email!r} is not an address")
        if self.delivery == "folder" and self.folder is None:
            raise ValueError("delivery = 'folder' needs folder")
        if self.mobile and not re.fullmatch(r"\+[1-9][0-9]{6,14}", self.mobile):
            raise ValueError(f"mobile {self.mobile!r} is not in E.164 form (e.g. +12125550177)")
        return self


class RouteConfig(_Section):
    """An inbound route: every condition given must match (globs, e.g. "+1212555*")."""

    line: str = ""
    called: str = ""  # the DID called
    caller: str = ""  # caller ID number
    csi: str = ""  # the sender's station ID (TSI)
    users: list[str]  # [[users]] names
    # Voice callers this route matches (on lines that listen for voice; the station ID is
    # not known then, so a route with csi never decides it): "voicemail", "reject" or
    # "forward:<sip-uri>"; "": the routed user's, else [voice].action.
    voice: OptionalVoiceRule = ""


class JunkConfig(_Section):
    callers: list[str] = []  # caller ID globs
    csi: list[str] = []  # station ID globs
    action: Literal["reject", "quarantine"] = "reject"  # hang up, or receive into quarantine


class RoutingConfig(_Section):
    routes: list[RouteConfig] = []
    default: list[str] = []  # users for faxes no route matched; empty: stored, shown in `umfax inbox`
    junk: JunkConfig = Field(default_factory=JunkConfig)
