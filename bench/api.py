"""API benchmark: sustained fax submissions through the REST API into the store.

For SQLite and PostgreSQL (a throwaway cluster, fsync and synchronous commit on), the
real API (uvicorn on 127.0.0.1, as ``umfax serve`` runs it) takes ``--requests``
multipart submissions of a one-page PDF from ``--clients`` concurrent keep-alive
clients, each authenticated with an API key.  Printed: submissions per second over the
whole run and latency to 202 (p50/p95/max, each 202 meaning the job is committed).
The clients run in a separate process, as a CRM does on its own machine: as threads of
this process they would hold the server's GIL while they build and parse requests
(requests spends ~1.2 ms of CPU per submission here, the server ~3 ms; both are
printed), and the figures would be partly the client's. They still share this
machine's two cores with the server.
Beside it, the reference: the same submissions made by calling ``submit_fax`` directly
from as many threads in this process (no HTTP, no auth), i.e. the store's own floor.
The per-key rate limit is lifted for the run (it is a policy, not a cost).

    python bench/api.py [--requests 2000] [--clients 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# bench/queue.py is named like the stdlib's `queue`: keep this folder off the path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import requests  # noqa: E402

from tests.mail.corpus import minimal_pdf  # noqa: E402
from tests.servers.postgres import postgres_cluster  # noqa: E402
from umfax.api.server import ApiServer  # noqa: E402
from umfax.config import Config, parse_config  # noqa: E402
from umfax.store import DocumentIn, Store, open_store  # noqa: E402
from umfax.store.api_keys import ApiKeyStore  # noqa: E402
from umfax.submit import FaxRequest, submit_fax  # noqa: E402

PDF = minimal_pdf("Quarterly statement", pages=1)


def config_for(url: str, data_dir: str) -> Config:
    return parse_config(
        {
            "server": {"data_dir": data_dir},
            "store": {"url": url, "pool_size": 16},
            "users": [{"name": "crm", "email": "crm@example.com"}],
            "api": {"listen": "127.0.0.1:0", "rate_per_second": 1e9, "rate_burst": 1_000_000_000},
        }
    )


def spread(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if n < total % parts else 0) for n in range(parts)]


def run_clients(total: int, clients: int, work: Any) -> tuple[float, list[float]]:
    """``work(count)`` in ``clients`` threads sharing ``total``: (rate, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()

    def client(count: int) -> None:
        mine = work(count)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in spread(total, clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return total / (time.perf_counter() - started), latencies


def http_clients(url: str, key: str, total: int, clients: int, results: Any) -> None:
    """In a child process: ``clients`` keep-alive clients POST ``total`` faxes to ``url``;
    (rate, latencies, errors) go back through the ``results`` pipe."""
    errors: list[str] = []

    def client(count: int) -> list[float]:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        mine: list[float] = []
        for n in range(count):
            started = time.perf_counter()
            response = session.post(
                url,
                data={"to": f"+1212555{n % 10000:04d}", "cover": "false"},
                files={"file": ("statement.pdf", PDF, "application/pdf")},
                timeout=30,
            )
            mine.append(time.perf_counter() - started)
            if response.status_code != 202:
                errors.append(f"{response.status_code} {response.text[:200]}")
        return mine

    cpu = time.process_time()
    rate, latencies = run_clients(total, clients, client)
    results.send((rate, latencies, errors, (time.process_time() - cpu) / total))


def over_http(
    config: Config, store: Store, total: int, clients: int
) -> tuple[float, list[float], float, float]:
    """(rate, latencies, server and client CPU seconds per submission)."""
    store.sync_users([("crm", "crm@example.com", "", None, True)])
    key = ApiKeyStore(store).create("crm")[1]
    server = ApiServer(config, store)
    server.start()
    url = f"http://127.0.0.1:{server.port}/api/v1/faxes"
    spawn = multiprocessing.get_context("spawn")  # no fork of a process running uvicorn's thread
    receive, send = spawn.Pipe(duplex=False)
    child = spawn.Process(target=http_clients, args=(url, key, total, clients, send), name="clients")
    try:
        child.start()
        send.close()  # so that a child that dies ends recv() with EOFError
        cpu = time.process_time()  # from the child's start: it idles while it imports
        rate, latencies, errors, client_cpu = receive.recv()
        server_cpu = (time.process_time() - cpu) / total
        child.join(30)
    finally:
        server.stop()
    if errors:
        raise SystemExit(f"{len(errors)} submissions failed, e.g. {errors[0]}")
    return rate, latencies, server_cpu, client_cpu


def direct(config: Config, store: Store, total: int, clients: int) -> tuple[float, list[float]]:
    def client(count: int) -> list[float]:
        mine: list[float] = []
        for n in range(count):
            started = time.perf_counter()
            document = DocumentIn("statement.pdf", PDF, "application/pdf")
            request = FaxRequest(f"+1212555{n % 10000:04d}", [document], cover=False, source="bench")
            submit_fax(store, config, request)
            mine.append(time.perf_counter() - started)
        return mine

    return run_clients(total, clients, client)


def summary(rate: float, latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "rate": rate,
        "p50": statistics.median(ordered) * 1000,
        "p95": ordered[int(len(ordered) * 0.95) - 1] * 1000,
        "max": ordered[-1] * 1000,
    }


def run_backend(url: str, data_dir: str, total: int, clients: int) -> dict[str, dict[str, float]]:
    config = config_for(url, data_dir)
    store = open_store(config)
    try:
        rate, latencies, server_cpu, client_cpu = over_http(config, store, total, clients)
        api = summary(rate, latencies) | {"server_cpu": server_cpu * 1000, "client_cpu": client_cpu * 1000}
        ref = summary(*direct(config, store, total, clients))
    finally:
        store.close()
    return {"api": api, "direct": ref}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = run_backend(f"sqlite:///{tmp}/bench.db", tmp, args.requests, args.clients)
        with postgres_cluster(durable=True) as cluster:
            results["postgresql"] = run_backend(
                cluster.create_database("bench_api"), tmp, args.requests, args.clients
            )
    load = os.getloadavg()[0]
    print(
        f"{args.requests} submissions of a 1-page PDF ({len(PDF)} bytes), {args.clients} clients, "
        f"load average {load:.1f}"
    )
    print(f"{'':24}{'sqlite API':>12}{'direct':>10}{'postgres API':>14}{'direct':>10}")
    rows = [
        ("submissions/s", "rate", "{:.0f}"),
        ("latency p50 (ms)", "p50", "{:.1f}"),
        ("latency p95 (ms)", "p95", "{:.1f}"),
        ("latency max (ms)", "max", "{:.1f}"),
    ]
    for label, key, fmt in rows:
        cells = [
            fmt.format(results["sqlite"]["api"][key]),
            fmt.format(results["sqlite"]["direct"][key]),
            fmt.format(results["postgresql"]["api"][key]),
            fmt.format(results["postgresql"]["direct"][key]),
        ]
        print(f"{label:24}{cells[0]:>12}{cells[1]:>10}{cells[2]:>14}{cells[3]:>10}")
    for side in ("server", "client"):
        print(
            f"{side} process CPU per submission (ms): "
            + ", ".join(f"{b} {results[b]['api'][side + '_cpu']:.1f}" for b in results)
        )
    worst_rate = min(results[b]["api"]["rate"] for b in results)
    worst_p95 = max(results[b]["api"]["p95"] for b in results)
    print(
        f"target >= 200 submissions/s: {'met' if worst_rate >= 200 else 'NOT met'} ({worst_rate:.0f}); "
        f"target p95 <= 50 ms: {'met' if worst_p95 <= 50 else 'NOT met'} ({worst_p95:.1f} ms)"
    )


if __name__ == "__main__":
    main()
