"""Queue benchmark: the store's cost per job on SQLite and PostgreSQL.

Prints, per backend: enqueue rate (submit with one document), conversion bookkeeping,
claim-to-done rate (claim + attempt record, one progress update, finish), the store
overhead per job in ms, and beside it a reference: the same claim/finish done with the
bare minimum of SQL on the same database (one UPDATE … RETURNING to claim, one UPDATE
to finish), which is the floor any queue pays.  Then 4 concurrent workers on
PostgreSQL drain the queue and the script checks that no job was claimed twice.

    python bench/queue.py [--jobs 10000] [--workers 4]

PostgreSQL runs as a throwaway cluster with fsync and synchronous commit on.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

# This file is named like the stdlib's `queue`: keep its own folder off the path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from sqlalchemy import text  # noqa: E402

from tests.servers.postgres import postgres_cluster  # noqa: E402
from umfax.store import CallOutcome, DocumentIn, JobSpec, PageIn, Store  # noqa: E402
from umfax.store.database import make_engine, upgrade  # noqa: E402

DOC = DocumentIn("memo.txt", b"x" * 2000, "text/plain")
PAGE = PageIn(b"\0" * 30000, 1728, 2200, 204, 196, "mmr")


def fill(store: Store, jobs: int) -> tuple[float, float]:
    started = time.perf_counter()
    for n in range(jobs):  # one number per job: a number in a call is not claimed again
        store.submit(JobSpec(number=f"+1212{5550000 + n % 10000:07d}"), [DOC])
    enqueue = time.perf_counter() - started
    started = time.perf_counter()
    while (claimed := store.claim_conversion("bench/1/convert", 60)) is not None:
        store.finish_conversion(claimed[0].id, "bench/1/convert", [PAGE])
    convert = time.perf_counter() - started
    return enqueue, convert


def drain(store: Store, worker: str, claimed: list[int]) -> None:
    while (claim := store.claim_send(worker, worker, 60)) is not None:
        claimed.append(claim.job.id)
        store.record_progress(claim, status="page 1 of 1 sent", pages_done=1, kind="page_sent")
        store.finish_send(claim, CallOutcome(cause=None, bit_rate=14400, encoding="mmr", pages_sent=1))


def reference(url: str, jobs: int) -> float:
    """Bare SQL claim + finish on a plain table: the floor for one job's bookkeeping."""
    engine = make_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    lock = "" if sqlite else "FOR UPDATE SKIP LOCKED"
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS ref_jobs")
        conn.exec_driver_sql(
            "CREATE TABLE ref_jobs (id INTEGER PRIMARY KEY, state VARCHAR(16), worker VARCHAR(50))"
        )
        conn.execute(
            text("INSERT INTO ref_jobs (id, state) VALUES (:id, 'queued')"),
            [{"id": i} for i in range(1, jobs + 1)],
        )
    started = time.perf_counter()
    write = engine.execution_options(umfax_write=True)
    while True:
        with write.begin() as conn:
            row = conn.execute(
                text(
                    "UPDATE ref_jobs SET state='sending', worker='w' WHERE id = (SELECT id FROM ref_jobs "
                    f"WHERE state='queued' ORDER BY id LIMIT 1 {lock}) RETURNING id"
                )
            ).first()
        if row is None:
            break
        with write.begin() as conn:
            conn.execute(text("UPDATE ref_jobs SET state='sent' WHERE id=:id"), {"id": row[0]})
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def run_backend(name: str, url: str, jobs: int) -> dict[str, float]:
    engine = make_engine(url)
    upgrade(engine)
    store = Store(engine)
    enqueue, convert = fill(store, jobs)
    claimed: list[int] = []
    started = time.perf_counter()
    drain(store, "bench/1/l1", claimed)
    done = time.perf_counter() - started
    assert len(claimed) == jobs == len(set(claimed)), "a job was claimed twice or lost"
    ref = reference(url, jobs)
    store.close()
    return {
        "enqueue": jobs / enqueue,
        "convert": jobs / convert,
        "done": jobs / done,
        "ms_per_job": 1000 * done / jobs,
        "ref_ms": 1000 * ref / jobs,
    }


def concurrent(url: str, jobs: int, workers: int) -> tuple[float, int, int]:
    engine = make_engine(url, pool_size=workers + 2)
    upgrade(engine)
    store = Store(engine)
    fill(store, jobs)
    claimed: list[list[int]] = [[] for _ in range(workers)]
    threads = [
        threading.Thread(target=drain, args=(store, f"bench/1/l{n}", claimed[n])) for n in range(workers)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    counts = Counter(job for ids in claimed for job in ids)
    twice = sum(1 for c in counts.values() if c > 1)
    store.close()
    return jobs / elapsed, len(counts), twice


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = run_backend("sqlite", f"sqlite:///{tmp}/bench.db", args.jobs)
    with postgres_cluster(durable=True) as cluster:
        results["postgresql"] = run_backend("postgresql", cluster.create_database("bench_serial"), args.jobs)
        rate, distinct, twice = concurrent(
            cluster.create_database("bench_concurrent"), args.jobs, args.workers
        )
    print(f"{args.jobs} jobs, one worker (PostgreSQL with fsync on)")
    print(f"{'':26}{'sqlite':>12}{'postgresql':>12}")
    rows = [
        ("enqueue (jobs/s)", "enqueue", "{:.0f}"),
        ("conversion bookkeeping (/s)", "convert", "{:.0f}"),
        ("claim-to-done (jobs/s)", "done", "{:.0f}"),
        ("store ms per job", "ms_per_job", "{:.2f}"),
        ("reference bare SQL ms/job", "ref_ms", "{:.2f}"),
    ]
    for label, key, fmt in rows:
        print(f"{label:26}" + "".join(f"{fmt.format(results[b][key]):>12}" for b in ("sqlite", "postgresql")))
    print(
        f"\n{args.workers} concurrent workers on PostgreSQL: {rate:.0f} jobs/s, "
        f"{distinct} distinct jobs claimed of {args.jobs}, claimed twice: {twice}"
    )
    target = max(results[b]["ms_per_job"] for b in results)
    print(
        f"target <= 5 ms store overhead per job: {'met' if target <= 5 else 'NOT met'} "
        f"(worst {target:.2f} ms)"
    )
    if twice or distinct != args.jobs:
        sys.exit(1)


if __name__ == "__main__":
    main()
