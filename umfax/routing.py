"""Routing of received faxes: junk screening, then rules by line, called number (DID),
caller ID and the sender's station ID to users, then users' own fax numbers, then the
default route.  A voice caller's rule (voicemail, reject, forward) and greeting come from
the same routing, decided before the call is answered.

Routes and junk entries edited in the web console (:mod:`umfax.store.console_routing`)
come through an optional :class:`RuleSource`: its routes are tried before the configured
ones, its junk patterns beside [routing.junk]."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Protocol

import phonenumbers

from umfax.config import Config, RouteConfig, UserConfig, VoiceConfig, split_voice_rule


@dataclass(frozen=True, slots=True)
class CallFacts:
    line: str
    called: str = ""  # DID, or the line's own number
    caller: str = ""  # caller ID number as the line reported it
    csi: str = ""  # the sender's station ID (TSI), known once the call is up


@dataclass(frozen=True, slots=True)
class Route:
    users: list[UserConfig] = field(default_factory=list)
    quarantined: bool = False
    why: str = ""  # which rule decided, for the event log
    rule: RouteConfig | None = None  # the [[routing.routes]] entry that matched, if one did


@dataclass(frozen=True, slots=True)
class VoiceRule:
    """What a voice caller gets: "voicemail" (with ``greeting``), "reject" or "forward"
    (to ``forward_to``), decided before the call is answered."""

    action: str
    forward_to: str = ""
    greeting: Path | None = None  # None: the built-in greeting
    route: Route = field(default_factory=Route)  # the routing it came from
    why: str = ""  # where the action came from, for the event log


@dataclass(frozen=True, slots=True)
class ConsoleRules:
    """Rules kept outside the config (the console's): routes in order, each with its id,
    junk patterns, and users the store knows that the config does not list."""

    routes: tuple[tuple[int, RouteConfig], ...] = ()
    junk_callers: tuple[str, ...] = ()
    junk_csi: tuple[str, ...] = ()
    users: dict[str, UserConfig] = field(default_factory=dict)


class RuleSource(Protocol):
    """Where a router gets the console's rules (read again as they change)."""

    def rules(self) -> ConsoleRules: ...


def _forms(number: str, country: str) -> list[str]:
    """A number as written and, where it parses, in E.164: patterns may use either."""
    forms = [number.strip()]
    try:
        parsed = phonenumbers.parse(number, country)
        forms.append(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    except phonenumbers.NumberParseException:
        pass
    return [f for f in forms if f]


def _matches(value: str, pattern: str, country: str | None) -> bool:
    """Glob match; numbers (country given) match in any written form; CSI ignores case
    and outer spaces."""
    if country is None:
        return fnmatchcase(value.strip().upper(), pattern.strip().upper())
    patterns = [pattern] if any(c in pattern for c in "*?[") else _forms(pattern, country)
    return any(fnmatchcase(form, p) for form in _forms(value, country) for p in patterns)


class InboundRouter:
    def __init__(self, config: Config, console: RuleSource | None = None) -> None:
        self.console = console
        self.country = config.fax.default_country
        self.routing = config.routing
        self.voice: VoiceConfig = config.voice
        self.users = {user.name: user for user in config.users}
        self.by_number: dict[str, list[UserConfig]] = {}
        for user in config.users:
            for number in user.fax_numbers:
                for form in _forms(number, self.country):
                    self.by_number.setdefault(form, []).append(user)

    def _console_rules(self) -> ConsoleRules:
        return self.console.rules() if self.console is not None else ConsoleRules()

    def junk(self, facts: CallFacts) -> str | None:
        """Why this call is junk, or None."""
        return self._junk(facts, self._console_rules())

    def _junk(self, facts: CallFacts, console: ConsoleRules) -> str | None:
        junk = self.routing.junk
        callers = [(p, "routing.junk.callers") for p in junk.callers]
        callers += [(p, "console junk (caller)") for p in console.junk_callers]
        for pattern, where in callers:
            if facts.caller and _matches(facts.caller, pattern, self.country):
                return f"caller {facts.caller} matches {where} {pattern!r}"
        csis = [(p, "routing.junk.csi") for p in junk.csi]
        csis += [(p, "console junk (station ID)") for p in console.junk_csi]
        for pattern, where in csis:
            if facts.csi and _matches(facts.csi, pattern, None):
                return f"station ID {facts.csi!r} matches {where} {pattern!r}"
        return None

    def reject_before_answer(self, facts: CallFacts) -> str | None:
        """Why not to answer at all (junk by caller ID with action = "reject"), or None."""
        if self.routing.junk.action != "reject":
            return None
        return self.junk(CallFacts(facts.line, facts.called, facts.caller, ""))

    def route(self, facts: CallFacts) -> Route:
        console = self._console_rules()
        why_junk = self._junk(facts, console)
        if why_junk is not None:
            return Route([], quarantined=True, why=why_junk)
        for route_id, rule in console.routes:
            if self._rule_matches(rule, facts):
                users = self._users(rule.users, console.users)
                return Route(users, why=f"console route {route_id}", rule=rule)
        for index, rule in enumerate(self.routing.routes):
            if self._rule_matches(rule, facts):
                return Route(self._users(rule.users), why=f"routing.routes[{index}]", rule=rule)
        if facts.called:
            for form in _forms(facts.called, self.country):
                if form in self.by_number:
                    owners = self.by_number[form]
                    return Route(list(owners), why=f"fax number {facts.called} of {owners[0].name}")
        if self.routing.default:
            return Route(self._users(self.routing.default), why="routing.default")
        return Route([], why="no route matched and routing.default is empty")

    def voice_rule(self, facts: CallFacts) -> VoiceRule:
        """The voice rule for a call, from what is known before answering (line, called
        number, caller; no station ID yet): the matching route's ``voice``, else the first
        routed user's, else ``[voice].action``.  The greeting: the first routed user's, else
        ``[voice].greeting``, else the built-in one (None)."""
        route = self.route(CallFacts(facts.line, facts.called, facts.caller, ""))
        first = route.users[0] if route.users else None
        if route.rule is not None and route.rule.voice:
            text, why = route.rule.voice, route.why
        elif first is not None and first.voice:
            text, why = first.voice, f"user {first.name}"
        else:
            text, why = self.voice.action, "voice.action"
        action, target = split_voice_rule(text)
        greeting = first.greeting if first is not None and first.greeting else self.voice.greeting
        return VoiceRule(action, target, greeting, route, why)

    def _rule_matches(self, rule: RouteConfig, facts: CallFacts) -> bool:
        if rule.line and not fnmatchcase(facts.line, rule.line):
            return False
        checks = (
            (rule.called, facts.called, self.country),
            (rule.caller, facts.caller, self.country),
            (rule.csi, facts.csi, None),
        )
        return all(
            not pattern or (bool(value) and _matches(value, pattern, country))
            for pattern, value, country in checks
        )

    def _users(self, names: Sequence[str], more: dict[str, UserConfig] | None = None) -> list[UserConfig]:
        known = self.users | more if more else self.users
        return [known[name] for name in names if name in known]
