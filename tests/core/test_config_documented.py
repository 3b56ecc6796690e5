"""Every configuration key is documented in config.example.toml, in its own section.

The example file is the reference users read (``umfax`` points to it when a key is
unknown), so a key added to a model without a line there fails here.  Keys count as
documented when they appear as ``key = ...`` (set or commented out) under their section's
header (``[queue.retry]``, ``# [mail.imap]``, ``[[connectors]]`` with ``type = "imap"``),
inside an inline table of their list (``remotes = [{ number = ... }]``), or, for keys every
mail connector shares, in the list of shared keys above the connectors.
"""

from __future__ import annotations

import re
import typing
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel

from umfax.config import Config, MailIntakeConfig

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"

# Fields that are not keys of the file: where a loaded configuration came from.
NOT_KEYS = {("", "source")}

HEADER = re.compile(r"^\[\[?([\w.]+)\]\]?\s*(#.*)?$")
KEY = re.compile(r"^(\w+)\s*=\s*(.*)$")
INLINE_KEY = re.compile(r"(\w+)\s*=")
SHARED_CONNECTOR_KEY = re.compile(r"^#   (\w+)\s{2,}\S")


def documented_keys(text: str) -> dict[str, set[str]]:
    """Scope ("queue.retry", "connectors:imap", "simulator.remotes") -> its documented keys."""
    keys: dict[str, set[str]] = defaultdict(set)
    scope = ""
    open_list = ""  # a key whose multi-line array of inline tables is being read
    for raw in text.splitlines():
        shared = SHARED_CONNECTOR_KEY.match(raw)
        if shared:
            keys["connectors:*"].add(shared.group(1))
            continue
        line = raw.lstrip("#").strip()
        header = HEADER.match(line)
        if header:
            scope = header.group(1)
            parent, _, name = scope.rpartition(".")
            keys[parent].add(name)
            open_list = ""
            continue
        for table in re.findall(r"\{([^}]*)\}", line):
            if open_list:
                keys[f"{scope}.{open_list}"].update(INLINE_KEY.findall(table))
        if line.startswith("]"):
            open_list = ""
        key = KEY.match(line)
        if not key:
            continue
        name, value = key.groups()
        if scope.startswith("connectors") and name == "type":
            kind = value.split("#")[0].strip().strip('"')
            scope = f"connectors:{kind}"
        keys[scope].add(name)
        if value.startswith("[") and "]" not in value:
            open_list = name
    return keys


def models_in(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (through Optional, list, unions, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found += models_in(arg)
    return found


def undocumented(model: type[BaseModel], scope: str, keys: dict[str, set[str]]) -> list[str]:
    missing: list[str] = []
    for name, field in model.model_fields.items():
        if (scope, name) in NOT_KEYS:
            continue
        here = keys.get(scope, set())
        shared = scope.startswith("connectors:") and name in MailIntakeConfig.model_fields
        if name not in here and not (shared and name in keys.get("connectors:*", set())):
            missing.append(f"{scope or '(top level)'}: {name}")
        for sub in models_in(field.annotation):
            if "type" in sub.model_fields:  # a [[connectors]] kind, told apart by its type
                (kind,) = typing.get_args(sub.model_fields["type"].annotation)
                sub_scope = f"connectors:{kind}"
            else:
                sub_scope = f"{scope}.{name}" if scope else name
            missing += undocumented(sub, sub_scope, keys)
    return missing


def test_every_config_key_is_documented() -> None:
    keys = documented_keys(EXAMPLE.read_text(encoding="utf-8"))
    assert undocumented(Config, "", keys) == []


def test_an_undocumented_key_is_noticed() -> None:
    keys = documented_keys(EXAMPLE.read_text(encoding="utf-8"))
    keys["queue.retry"].discard("busy")
    keys["connectors:imap"].discard("idle_timeout")
    assert undocumented(Config, "", keys) == ["queue.retry: busy", "connectors:imap: idle_timeout"]


def test_the_example_is_a_valid_configuration() -> None:
    from umfax.config import load_config

    load_config(EXAMPLE)
