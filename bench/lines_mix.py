"""bench/lines.py's job mix: plain-text documents of 1-10 pages (fixed seed), each to its
own number, some to receivers with ECM and some to receivers without.

The ECM jobs come from the seed's own random stream, exactly as before receivers without
ECM joined the mix, and the others from a stream of their own; the two kinds are spread
evenly through the queue.  ``plain_jobs=0`` is the former, ECM-only mix.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bench.lines_network import DEST_BASE, PLAIN_DEST_BASE, CallRecord, number
from umfax.config import Config
from umfax.conversion import pages_to_tiff, tiff_to_pages
from umfax.store import DocumentIn, Store
from umfax.submit import FaxRequest, submit_fax

WORDS = tuple(
    [
        "invoice",
        "payment",
        "order",
        "delivery",
        "contract",
        "schedule",
        "account",
        "balance",
        "the",
        "of",
        "and",
        "to",
        "in",
        "for",
        "with",
        "on",
        "by",
        "at",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "this",
        "that",
        "please",
        "find",
        "attached",
        "regarding",
        "shipment",
        "quantity",
        "price",
        "total",
        "due",
        "date",
        "reference",
        "customer",
        "supplier",
        "terms",
    ]
)



def document(rng: random.Random, pages: int) -> bytes:
    """Plain text, ``pages`` pages separated by form feeds, about 40 lines a page."""
    out = []
    for page in range(pages):
        lines = [f"Page {page + 1} of {pages}", ""]
        for _ in range(rng.randint(25, 45)):
            lines.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12))))
        out.append("\n".join(lines))
    return "\f".join(out).encode()


@dataclass(frozen=True)
class JobSpec:
    """One job of the mix: where it goes and what it holds."""

    number: str
    ecm_receiver: bool  # the number reaches a receiver with ECM
    text: bytes
    pages: int


def job_mix(jobs: int, plain_jobs: int, seed: int) -> list[JobSpec]:
    """``jobs`` jobs to ECM receivers and ``plain_jobs`` to receivers without ECM, in
    queue order (the two kinds spread evenly)."""
    keyed: list[tuple[float, JobSpec]] = []
    for kind_jobs, ecm, base, rng in (
        (jobs, True, DEST_BASE, random.Random(seed)),
        (plain_jobs, False, PLAIN_DEST_BASE, random.Random(seed * 7919 + 1)),
    ):
        for n in range(kind_jobs):
            pages = rng.randint(1, 10)
            spec = JobSpec(number(base + n), ecm, document(rng, pages), pages)
            keyed.append(((n + (0.0 if ecm else 0.5)) / kind_jobs, spec))
    keyed.sort(key=lambda kv: kv[0])  # stable: ECM jobs keep their order
    return [spec for _, spec in keyed]


def submit_jobs(store: Store, config: Config, mix: list[JobSpec]) -> list[int]:
    """The mix's jobs in the store, no cover page; their ids in queue order."""
    return [
        submit_fax(
            store,
            config,
            FaxRequest(
                number=spec.number,
                documents=[DocumentIn(f"job{n + 1}.txt", spec.text, "text/plain")],
                cover=False,
                source="bench",
            ),
        ).id
        for n, spec in enumerate(mix)
    ]


@dataclass
class JobResult:
    index: int  # 0-based position in the mix
    job_id: int
    pages: int
    state: str
    ecm: bool  # the call negotiated ECM
    call: CallRecord | None
    ecm_receiver: bool = True  # the job's number reaches a receiver with ECM


def job_tiff(store: Store, job_id: int) -> bytes:
    return pages_to_tiff([page for stored in store.pages(job_id) for page in tiff_to_pages(stored.data)])


__all__ = ["WORDS", "JobResult", "JobSpec", "document", "job_mix", "job_tiff", "submit_jobs"]
