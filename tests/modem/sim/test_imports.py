"""The modem package's module graph: no import circle, nothing of umfax or connectors;
the exchange takes its remote kinds from whoever builds it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import modem
from modem.sim import REMOTE_KINDS, Endpoint, SimExchange
from modem.sim.endpoint import Switchboard

ROOT = Path(modem.__file__).resolve().parent.parent


def _graph() -> dict[str, set[str]]:
    """Module -> the modem modules it imports (any import statement, at any depth)."""
    modules = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for p in (ROOT / "modem").rglob("*.py")
    }
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for target in targets:
                assert target.split(".")[0] not in ("umfax", "connectors"), (name, target)
                # a package's __init__ importing its own modules is not a circle
                if target in modules and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def test_no_import_circle_in_modem() -> None:
    graph = _graph()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            pytest.fail("import circle: " + " -> ".join([*path[path.index(module):], module]))
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_exchange_knows_fax_machines_only_when_given_them() -> None:
    made: list[tuple[str, str, dict[str, object]]] = []

    def factory(exchange: Switchboard, number: str, name: str, /, **options: object) -> Endpoint:
        made.append((number, name, options))
        return Endpoint(exchange, number, name)

    with SimExchange(speed=50, remotes={"custom": factory}) as ex:
        with pytest.raises(ValueError, match="unknown remote kind 'receiver'"):
            ex.add_remote("+15550110", "receiver")
        ep = ex.add_remote("+15550130", "custom", "c1", colour="blue")
        assert ex.resolve("5550130") is ep
        ex.add_remote("+15550111", "busy")
    assert made == [("+15550130", "c1", {"colour": "blue"})]
    assert {"receiver", "sender", "drop_mid_page", "busy", "no_answer", "voice"} <= set(REMOTE_KINDS)
