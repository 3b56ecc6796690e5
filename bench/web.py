"""Web console benchmark: the inbox, a search and thumbnails with 100,000 faxes, and live status.

For SQLite and PostgreSQL (a throwaway cluster), the store gets ``--faxes`` faxes (half
sent, half received; four users; real coded pages, see bench/web_seed.py), then the
real server (uvicorn on 127.0.0.1, the app ``umfax serve`` runs) answers, for a
non-admin user:

- the inbox's first page (``GET /inbox``), beside the REST API's (``GET /api/v1/inbound``);
- a search by the caller's number (``GET /inbox?number=+44 20 7940 0000``), and by part
  of one (``number=9400000``: every fax of the person is looked at), beside the REST
  API's search of sent faxes by number (``GET /api/v1/faxes?to=...``; the API has no
  inbox search);
- a first-page thumbnail of a different fax each time (``GET /inbox/{id}/pages/1.png?size=thumb``,
  rendered, not cached), beside the REST API's download of the same fax as TIFF;
- live status: the store records an event on the user's fax -> the page's event stream
  (``/faxes/events``) delivers it.

Times are server times (from the request's arrival to the end of the response, measured
by a wrapper around the application), p50/p95/max in milliseconds over ``--requests``
requests each.  Console requests carry a real session (signed in through the form, as
tests/web/signin.py does), so the session lookup is part of each console figure; API
requests an API key.  Run with ``nice -n 19`` on a shared machine.

    python bench/web.py [--faxes 100000] [--requests 200] [--backend sqlite --backend postgresql]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

# bench/queue.py is named like the stdlib's `queue`: keep this folder off the path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import requests  # noqa: E402
from starlette.types import ASGIApp, Receive, Scope, Send  # noqa: E402

from bench.web_seed import Seeded, seed  # noqa: E402
from tests.servers.postgres import postgres_cluster  # noqa: E402
from tests.web.signin import signed_in  # noqa: E402
from umfax.api.server import ApiServer  # noqa: E402
from umfax.config import parse_config  # noqa: E402
from umfax.numbers import display  # noqa: E402
from umfax.store import Store, open_store  # noqa: E402
from umfax.store.api_keys import ApiKeyStore  # noqa: E402

USERS = ["ann", "bob", "carol", "dan"]
TARGET_MS = 100.0
SSE_TARGET_S = 0.5


class Timed:
    """Records each request's server time (arrival to last body byte) by path label."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.times: dict[str, list[float]] = {}
        self.label: Callable[[str], str | None] = lambda _path: None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        label = self.label(scope["path"] + "?" + scope.get("query_string", b"").decode())
        started = time.perf_counter()

        async def timed(message: Any) -> None:
            await send(message)
            if label and message["type"] == "http.response.body" and not message.get("more_body"):
                self.times.setdefault(label, []).append((time.perf_counter() - started) * 1000)

        await self.app(scope, receive, timed)


def _label(path: str) -> str | None:
    if path.startswith("/inbox?number="):
        number = parse_qs(path.partition("?")[2]).get("number", [""])[0]
        return "console search" if len(number) > 10 else "console search part"
    if path.startswith("/inbox?"):
        return "console inbox"
    if path.startswith("/inbox/") and "size=thumb" in path:
        return "console thumbnail"
    if path.startswith("/api/v1/inbound?"):
        return "api inbox"
    if path.startswith("/api/v1/faxes?to="):
        return "api search"
    if path.startswith("/api/v1/inbound/") and path.split("?")[0].endswith("/tiff"):
        return "api tiff"
    return None


def figures(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, ordered[-1]


def _received_ids(store: Store, user: str, count: int) -> list[int]:
    from sqlalchemy import select

    from umfax.store.models import Outbox

    with store.reading() as session:
        origins = session.scalars(
            select(Outbox.origin)
            .where(Outbox.channel == "inbound", Outbox.target == user)
            .order_by(Outbox.id.desc())
            .limit(count)
        )
        return [int(origin.split(":")[1]) for origin in origins]


def sse_latency(url: str, session: requests.Session, store: Store, job_id: int, events: int) -> list[float]:
    """Seconds from the store's commit of an event to its arrival on the page's stream."""
    arrived: list[float] = []
    ready = threading.Event()

    def listen() -> None:
        with session.get(url + "/faxes/events", stream=True, timeout=60) as response:
            for line in response.iter_lines(decode_unicode=True):
                if line.startswith(": connected"):
                    ready.set()
                if line.startswith("data: "):
                    arrived.append(time.perf_counter())
                    if len(arrived) >= events:
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    ready.wait(10)
    time.sleep(0.3)
    latencies = []
    for n in range(events):
        store.log_event("bench", f"status {n}", job_id=job_id)
        committed = time.perf_counter()
        deadline = committed + 5
        while len(arrived) <= n and time.perf_counter() < deadline:
            time.sleep(0.002)
        latencies.append(arrived[n] - committed if len(arrived) > n else 5.0)
        time.sleep(0.05)
    thread.join(timeout=5)
    return latencies


def run_backend(url: str, data_dir: str, faxes: int, count: int) -> dict[str, Any]:
    config = parse_config(
        {
            "server": {"data_dir": data_dir},
            "store": {"url": url, "pool_size": 8},
            "fax": {"cover": False},
            "users": [{"name": n, "email": f"{n}@example.com"} for n in USERS],
            "api": {"listen": "127.0.0.1:0", "rate_per_second": 1e9, "rate_burst": 1_000_000_000},
        }
    )
    store = open_store(config)
    store.sync_users([(n, f"{n}@example.com", "", None, True) for n in USERS])
    started = time.perf_counter()
    seeded: Seeded = seed(store, faxes, USERS)
    seeding = time.perf_counter() - started
    server = ApiServer(config, store)
    timed = Timed(server._server.config.app)
    timed.label = _label
    server._server.config.app = timed
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    key = ApiKeyStore(store).create("ann")[1]
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {key}"
    console = signed_in(SimpleNamespace(url=base, store=store, config=config), "ann")  # type: ignore[arg-type]
    full = display(seeded.busy_number)  # as a person types it: +44 20 7940 0000
    number = seeded.busy_number[-7:]  # part of it: a full scan of the person's faxes
    try:
        for _ in range(3):  # warm up: connections, statement caches
            console.get(base + "/inbox?", timeout=30)
            api.get(base + "/api/v1/inbound?limit=50", timeout=30)
        timed.times.clear()
        ids = _received_ids(store, "ann", count)
        for n in range(count):
            assert console.get(base + "/inbox?", timeout=30).status_code == 200
            assert api.get(base + "/api/v1/inbound?limit=50", timeout=30).status_code == 200
            assert console.get(base + "/inbox", params={"number": full}, timeout=30).status_code == 200
            assert console.get(base + "/inbox", params={"number": number}, timeout=30).status_code == 200
            assert (
                api.get(
                    base + "/api/v1/faxes", params={"to": seeded.busy_number, "limit": 50}, timeout=30
                ).status_code
                == 200
            )
            fax = ids[n % len(ids)]
            assert console.get(base + f"/inbox/{fax}/pages/1.png?size=thumb", timeout=30).status_code == 200
            assert api.get(base + f"/api/v1/inbound/{fax}/tiff", timeout=30).status_code == 200
        sse = sse_latency(base, console, store, seeded.sample_job["ann"], max(5, min(count, 50)))
    finally:
        server.stop()
        store.close()
    return {"times": dict(timed.times), "sse": sse, "seeding": seeding}


def report(name: str, faxes: int, result: dict[str, Any]) -> list[str]:
    times = result["times"]
    lines = [f"{name}: {faxes:,} faxes seeded in {result['seeding']:.1f} s; server time in ms"]
    lines.append(
        f"  {'request':<34}{'p50':>9}{'p95':>9}{'max':>9}{'n':>6}   reference (REST API){'p50':>9}{'p95':>9}"
    )
    verdicts = []
    for ours, reference, what in (
        ("console inbox", "api inbox", "GET /api/v1/inbound"),
        ("console search", "api search", "GET /api/v1/faxes?to="),
        ("console search part", "api search", "GET /api/v1/faxes?to="),
        ("console thumbnail", "api tiff", "GET /api/v1/inbound/{id}/tiff"),
    ):
        p50, p95, top = figures(times[ours])
        r50, r95, _ = figures(times[reference])
        lines.append(
            f"  {ours:<34}{p50:9.1f}{p95:9.1f}{top:9.1f}{len(times[ours]):6}   {what:<21}{r50:9.1f}{r95:9.1f}"
        )
        verdicts.append(f"{ours} p95 {'<=' if p95 <= TARGET_MS else '>'} {TARGET_MS:.0f} ms")
    sse = sorted(result["sse"])
    s50, s95, smax = figures(sse)
    lines.append(
        f"  {'live status: store -> EventSource':<34}"
        f"{s50 * 1000:9.1f}{s95 * 1000:9.1f}{smax * 1000:9.1f}{len(sse):6}"
    )
    verdicts.append(f"live status max {smax:.3f} s {'<=' if smax <= SSE_TARGET_S else '>'} {SSE_TARGET_S} s")
    met = all("<=" in v for v in verdicts)
    lines.append(f"  verdict: {'MET' if met else 'NOT MET'} ({'; '.join(verdicts)})")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faxes", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--backend", action="append", choices=("sqlite", "postgresql"))
    parser.add_argument("--json", action="store_true", help="also print the raw figures as JSON")
    args = parser.parse_args(argv)
    backends = args.backend or ["sqlite", "postgresql"]
    out: list[str] = []
    raw: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in backends:
            result = run_backend(f"sqlite:///{tmp}/bench.db", tmp, args.faxes, args.requests)
            out += report("sqlite", args.faxes, result)
            raw["sqlite"] = result
        if "postgresql" in backends:
            with postgres_cluster(durable=True) as cluster:
                url = cluster.create_database("bench_web")
                result = run_backend(url, tmp, args.faxes, args.requests)
            out += report("postgresql", args.faxes, result)
            raw["postgresql"] = result
    for line in out:
        print(line)
    if args.json:
        print(json.dumps({k: {"sse": v["sse"], "times": v["times"]} for k, v in raw.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
