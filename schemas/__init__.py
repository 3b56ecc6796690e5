"""JSON Schemas (draft 2020-12) of every payload umfax accepts or emits."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def load(name: str) -> dict[str, Any]:
    """The schema ``NAME.schema.json``; ``$ref``s between schemas resolve by file name."""
    text = resources.files(__package__).joinpath(f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def names() -> list[str]:
    return sorted(
        entry.name.removesuffix(".schema.json")
        for entry in resources.files(__package__).iterdir()
        if entry.name.endswith(".schema.json")
    )


def validate(name: str, instance: Any) -> None:
    """Raise ``jsonschema.ValidationError`` when ``instance`` does not match."""
    import jsonschema
    from referencing import Registry, Resource

    registry: Registry[Any] = Registry().with_resources(
        (f"{n}.schema.json", Resource.from_contents(load(n))) for n in names()
    )
    jsonschema.Draft202012Validator(load(name), registry=registry).validate(instance)
