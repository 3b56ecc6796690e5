"""Voicemail delivery latency (issue 17): from the end of a voice call to the message in
the user's IMAP mailbox, beside the floor of that path measured in the same run.

    python bench/voice.py                    # 20 calls, one after another (~2.5 min here)
    python bench/voice.py --quick            # 5 calls
    python bench/voice.py --calls 40 --concurrent 4 --idle
    python bench/voice.py --quick --repeat 10   # ~30 s messages

What runs (all on 127.0.0.1, as tests/sip/test_voicemail.py does): ``umfax serve`` (a
child process, this worktree's code) with a ``[[trunks]]`` registered with kamailio,
``listen_for_voice = true``, ``[voice] action = "voicemail"``, a short espeak-ng greeting,
``listen_seconds`` 2, ``silence_seconds`` 1.5, delivering by IMAP APPEND into ann's
mailbox on a throwaway Dovecot.  Each call is SIPp through kamailio (digest auth) with
its RTP from a thread of this process: silent through the greeting and the beep, then
about 3 s of espeak-ng speech; SIPp hangs up (BYE) 0.3 s after the speech ends, before
umfax's silence timer would.

Measured per call: **the caller's BYE leaving SIPp** (SIPp's message trace, wall clock,
microseconds; within 0.03 ms of the BYE's frame on a loopback capture) **-> the message
seen in ann's INBOX** by a watcher on its own IMAP connection: by default NOOP every
``--poll-ms`` (20) ms, so the figure is late by at most that plus one round trip;
``--idle`` waits in IMAP IDLE instead (Dovecot then reports new mail after its own
notification delay, ~0.5 s).  Also shown: BYE -> the call recorded as ended in
umfax's store (``inbound.ended_at``, read from its SQLite), which is before the mail.

The reference row, measured after every call (or round of calls) in the same run: the bench APPENDs the
message umfax delivered (same bytes) to the same INBOX through the same master-user
login umfax uses, and the same watcher sees it: the floor of the mailbox path, so the
difference is umfax's (the line ending the call, storing the WAV, the outbox, building
the mail, its IMAP session).

Target (issue 17): p95 <= 2 s.  Benchmarks are not tests: nothing is asserted.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# This folder holds benches (queue.py) whose names shadow the standard library.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse
import logging
import os
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from imapclient import IMAPClient

from bench.voice_call import CallTiming, place_call
from tests.servers.dovecot import DovecotServer, ImapUser
from tests.servers.kamailio import KamailioServer
from tests.servers.ports import HOST, free_udp_port
from tests.servers.speech import make_speech, sox_stat, wav_samples
from tests.servers.umfax_site import UmfaxSite, kill_servers, new_site

TARGET_P95 = 2.0
USER, PASSWORD = "12125550100", "trunk-secret"
CALLER_PASSWORD = "far-secret"
LISTEN_SECONDS = 2.0
SILENCE_SECONDS = 1.5
GREETING = "Please leave a message."
MESSAGE = "Hello Ann, this is Bob. Please call me back."
SPEECH_MARGIN = 0.2  # silence after the beep before the speech
HANGUP_AFTER_SPEECH = 0.3  # the BYE this long after the speech ends


def percentiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, ordered[-1]


def caller_number(k: int) -> str:
    return f"121255502{k:02d}"


class MailboxWatcher:
    """Watches ann's INBOX on its own connection from a thread: the wall-clock time at
    which each message (by sequence number) was first reported (EXISTS), polling with
    NOOP every ``poll_s`` seconds, or in IDLE when ``poll_s`` is 0."""

    def __init__(self, client: IMAPClient, poll_s: float) -> None:
        self.client = client
        self.poll_s = poll_s
        self.count = int(client.select_folder("INBOX", readonly=True)[b"EXISTS"])
        self.seen: dict[int, float] = {}
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mailbox-watcher", daemon=True)
        self._thread.start()

    def _note(self, responses: list[tuple[object, ...]]) -> None:
        now = time.time()
        for response in responses:
            if len(response) > 1 and response[1] == b"EXISTS" and isinstance(response[0], int):
                with self._changed:
                    for seq in range(self.count + 1, response[0] + 1):
                        self.seen[seq] = now
                    self.count = max(self.count, response[0])
                    self._changed.notify_all()

    def _run(self) -> None:
        if self.poll_s:
            while not self._stop.is_set():
                self._note(self.client.noop()[1])
                self._stop.wait(self.poll_s)
            return
        self.client.idle()
        while not self._stop.is_set():
            self._note(self.client.idle_check(timeout=0.2))
        self.client.idle_done()

    def wait_for(self, count: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.count >= count, timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass
class Bench:
    site: UmfaxSite
    sip: KamailioServer
    dovecot: DovecotServer
    ann: ImapUser
    pcm: np.ndarray
    bye_seconds: float
    workdir: Path
    figures: Figures


def site_toml(sip: KamailioServer, dovecot: DovecotServer, ann: ImapUser, greeting: Path,
              media: range, channels: int) -> str:
    return f"""
[mail]
from_address = "fax@example.test"
[mail.imap]
host = "{dovecot.host}"
port = {dovecot.tls_port}
ca_file = "{dovecot.ca_file}"
username = "{dovecot.master_user}"
password_env = "BENCH_MASTER_PASSWORD"

[voice]
action = "voicemail"
greeting = "{greeting}"
listen_seconds = {LISTEN_SECONDS}
silence_seconds = {SILENCE_SECONDS}
max_message_seconds = 120

[[users]]
name = "ann"
email = "{ann.name}"
delivery = "imap"

[routing]
default = ["ann"]

[[trunks]]
name = "carrier"
registrar = "{sip.host}:{sip.port}"
username = "{USER}"
password_env = "BENCH_SIP_PASSWORD"
listen = "{HOST}:0"
media_ports = "{media.start}-{media.stop - 1}"
channels = {channels}
dids = ["+{USER}"]
t38 = "never"
listen_for_voice = true
media_timeout = "10s"
"""


@contextmanager
def running_bench(root: Path, concurrent: int, repeat: int = 1) -> Iterator[Bench]:
    """Dovecot, kamailio (the trunk's account and one caller account per concurrent
    call) and ``umfax serve`` with this worktree's code, until the block ends; each call
    says the message ``repeat`` times."""
    from modem.voice.answer import BEEP_SECONDS

    greeting = make_speech(GREETING, root / "greeting.wav")
    speech = make_speech(MESSAGE, root / "speech.wav")
    lead = max(LISTEN_SECONDS, sox_stat(greeting).seconds) + BEEP_SECONDS + SPEECH_MARGIN
    samples = np.tile(wav_samples(speech), repeat)
    pcm = np.concatenate([np.zeros(round(lead * 8000)), samples]).astype(np.int16)
    bye_seconds = len(pcm) / 8000 + HANGUP_AFTER_SPEECH
    users = {USER: PASSWORD} | {caller_number(k): CALLER_PASSWORD for k in range(concurrent)}
    with DovecotServer() as dovecot:
        sip = KamailioServer(users)
        sip.start()
        (root / "site").mkdir()
        site = new_site(root / "site")
        try:
            ann = dovecot.add_user()
            low = min(free_udp_port(), 64000) & ~1
            media = range(low, low + 4 * concurrent + 6)
            site.config.write_text(site.config.read_text()
                                   + site_toml(sip, dovecot, ann, greeting, media, concurrent))
            path = os.pathsep.join([str(_HERE.parent), site.env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
            site.env |= {"PYTHONPATH": path, "BENCH_SIP_PASSWORD": PASSWORD,
                         "BENCH_MASTER_PASSWORD": dovecot.master_password}
            site.start()
            site.wait_for(lambda: site.json("lines")[0]["registration"].startswith("registered"),
                          30, "the trunk to register")
            yield Bench(site, sip, dovecot, ann, pcm, bye_seconds, root / "calls", Figures())
        finally:
            kill_servers(site)
            sip.close()


@dataclass(frozen=True)
class StoredCall:
    """An ended inbound call as umfax's store has it; ``ended_at`` as a wall-clock time."""

    caller_number: str
    ended_at: float
    kind: str
    how: str  # inbound.message: "ended by hangup" for a message the caller ended
    seconds: float

    @property
    def by_hangup(self) -> bool:
        return self.kind == "voice" and self.how.startswith("ended by hangup")


def stored_calls(site: UmfaxSite) -> list[StoredCall]:
    """Every ended inbound call in the site's SQLite store, oldest first."""
    with sqlite3.connect(site.root / "data" / "umfax.db") as db:
        rows = db.execute("SELECT caller_number, ended_at, kind, message, coalesce(seconds, 0) FROM inbound "
                          "LEFT JOIN inbound_audio ON inbound_id = id WHERE ended_at IS NOT NULL "
                          "ORDER BY id").fetchall()
    calls = []
    for number, ended, kind, how, seconds in rows:
        at = datetime.fromisoformat(str(ended))
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        calls.append(StoredCall(str(number), at.timestamp(), str(kind), str(how), float(seconds)))
    return calls


@dataclass
class Figures:
    """What the run measured, in seconds; ``failed`` says which calls gave no figure."""

    delivered: list[float] = field(default_factory=list)
    stored: list[float] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    recorded: list[StoredCall] = field(default_factory=list)


CALLER_FIELD = "BODY[HEADER.FIELDS (X-FAX-CALLER-NUMBER)]"


def call_round(bench: Bench, first: int, k: int, pool: ThreadPoolExecutor) -> dict[str, float]:
    """``k`` calls at once, one per caller account; the BYE time of each that went as
    planned, by caller number (the others are noted in ``bench.figures.failed``)."""

    def one(i: int) -> CallTiming:
        return place_call((bench.sip.host, bench.sip.port), USER, caller_number(i), CALLER_PASSWORD,
                          bench.pcm, bench.bye_seconds, bench.workdir / f"call-{first + i}")

    timings = list(pool.map(one, range(k)))
    bench.figures.failed += [f"{t.caller}: {t.detail}" for t in timings if t.bye_at is None]
    return {t.caller: t.bye_at for t in timings if t.bye_at is not None}


def collect_arrivals(bench: Bench, watcher: MailboxWatcher, reader: IMAPClient, before: int,
                     byes: dict[str, float]) -> list[int]:
    """Wait (up to 30 s) for a message per call in ``byes`` and note each one's latency,
    matching messages to calls by caller number; the new messages' sequence numbers."""
    watcher.wait_for(before + len(byes), 30)
    new = list(range(before + 1, watcher.count + 1))
    if not new:
        return new
    reader.noop()  # this session learns of the new messages
    fetched = reader.fetch(new, [f"BODY.PEEK[{CALLER_FIELD[5:-1]}]", "RFC822.SIZE"])
    waiting = dict(byes)
    for seq in new:
        header = fetched[seq][CALLER_FIELD.encode()].decode()
        number = next((n for n in waiting if n in header), None)
        if number is not None:
            bench.figures.delivered.append(watcher.seen[seq] - waiting.pop(number))
            bench.figures.sizes.append(int(fetched[seq][b"RFC822.SIZE"]))
    bench.figures.failed += [f"{n}: no message in 30 s" for n in waiting]
    return new


def note_stored(bench: Bench, ended_before: int, byes: dict[str, float]) -> None:
    """BYE -> the call ended in umfax's store, for the calls of this round."""
    for call in stored_calls(bench.site)[ended_before:]:
        bench.figures.recorded.append(call)
        if call.caller_number in byes:
            bench.figures.stored.append(call.ended_at - byes[call.caller_number])
        if not call.by_hangup:
            bench.figures.failed.append(f"{call.caller_number}: stored as {call.kind}, {call.how!r}")


def measure_reference(bench: Bench, watcher: MailboxWatcher, appender: IMAPClient, raw: bytes,
                      times: int) -> None:
    """The floor: APPEND ``raw`` ourselves ``times`` times, each timed to the watcher."""
    for _ in range(times):
        time.sleep(0.1)
        count = watcher.count
        appended = time.time()
        appender.append("INBOX", raw)
        if watcher.wait_for(count + 1, 10):
            bench.figures.reference.append(watcher.seen[count + 1] - appended)


def run(bench: Bench, calls: int, concurrent: int, poll_s: float) -> Figures:
    """``calls`` calls, ``concurrent`` at a time; after each round, as many reference
    APPENDs of the round's last message."""
    dovecot, ann = bench.dovecot, bench.ann
    with dovecot.master_client(ann) as watched, dovecot.master_client(ann) as reader, \
            dovecot.master_client(ann) as appender, ThreadPoolExecutor(concurrent) as pool:
        watcher = MailboxWatcher(watched, poll_s)
        reader.select_folder("INBOX", readonly=True)
        try:
            for first in range(0, calls, concurrent):
                k = min(concurrent, calls - first)
                before, ended_before = watcher.count, len(stored_calls(bench.site))
                byes = call_round(bench, first, k, pool)
                new = collect_arrivals(bench, watcher, reader, before, byes)
                note_stored(bench, ended_before, byes)
                if new:  # the reference: the same bytes, the same path, the same watcher
                    raw = reader.fetch([new[-1]], ["BODY.PEEK[]"])[new[-1]][b"BODY[]"]
                    measure_reference(bench, watcher, appender, raw, k)
        finally:
            watcher.close()
    return bench.figures


def report(figures: Figures, calls: int, concurrent: int, poll_s: float, load: tuple[float, float]) -> None:
    """The table, the verdict and what the figure does not cover."""
    how = f"NOOP poll every {poll_s * 1000:g} ms" if poll_s else "IMAP IDLE"
    size = statistics.mean(figures.sizes or [0]) / 1024
    print(f"voicemail delivery: {calls} calls, {concurrent} at a time, ~{size:.0f} KiB messages"
          f", seen by {how}; load average {load[0]:.1f} before, {load[1]:.1f} after")
    print(f"{'latency, seconds':52}{'p50':>8}{'p95':>8}{'max':>8}{'n':>6}")
    rows = [("caller's BYE -> message in ann's INBOX (umfax)", figures.delivered),
            ("  of which: BYE -> call ended in umfax's store", figures.stored),
            ("reference: bench APPEND -> seen in the same INBOX", figures.reference)]
    for label, values in rows:
        if values:
            p50, p95, worst = percentiles(values)
            print(f"{label:52}{p50:8.3f}{p95:8.3f}{worst:8.3f}{len(values):6d}")
        else:
            print(f"{label:52}{'-':>8}{'-':>8}{'-':>8}{0:6d}")
    seconds = [c.seconds for c in figures.recorded]
    if seconds:
        print(f"messages recorded: {min(seconds):.1f}-{max(seconds):.1f} s of audio, "
              f"{sum(c.by_hangup for c in figures.recorded)}/"
              f"{len(figures.recorded)} voice messages ended by the caller's hang-up")
    for failure in figures.failed:
        print(f"  failed: {failure}")
    if figures.delivered and figures.reference:
        own = percentiles(figures.delivered)[0] - percentiles(figures.reference)[0]
        print(f"umfax's share (p50 minus the reference's p50): {own:.3f} s")
    ok = bool(figures.delivered) and not figures.failed and percentiles(figures.delivered)[1] <= TARGET_P95
    p95_text = f"{percentiles(figures.delivered)[1]:.3f} s" if figures.delivered else "no calls"
    print(f"verdict: end of a voice call -> message in the IMAP mailbox p95 <= {TARGET_P95:g} s: "
          f"{'MET' if ok else 'NOT MET'} ({p95_text}, {len(figures.delivered)}/{calls} calls delivered)")
    print("Not covered: one mailbox on loopback (no network between umfax and the IMAP server, "
          "whose TLS session umfax already holds or opens on loopback); umfax's store on SQLite "
          "(not PostgreSQL); the reference APPENDs between calls, not during one; messages of a few "
          "seconds unless --repeat; only IMAP delivery (not EWS, Graph, SMTP, folder); calls "
          "ended by the caller's hang-up (not by silence, which by design adds silence_seconds, "
          "nor by the length limit); the watcher's own delay (poll period or IDLE "
          "notification), which the reference row carries too.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20, help="voice calls (20)")
    parser.add_argument("--quick", action="store_true", help="5 calls")
    parser.add_argument("--concurrent", type=int, default=1, metavar="K",
                        help="calls at a time (1; the trunk gets K channels)")
    parser.add_argument("--poll-ms", type=float, default=20.0, help="watcher's NOOP period (20 ms)")
    parser.add_argument("--idle", action="store_true", help="watch in IMAP IDLE instead of polling")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="say the ~3 s message N times in each call (1; up to 30)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    calls = 5 if args.quick else args.calls
    concurrent = max(1, min(args.concurrent, calls))
    poll_s = 0.0 if args.idle else args.poll_ms / 1000
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="umfax-bench-voice-") as tmp, \
            running_bench(Path(tmp), concurrent, max(1, min(args.repeat, 30))) as bench:
        figures = run(bench, calls, concurrent, poll_s)
    report(figures, calls, concurrent, poll_s, (load_before, os.getloadavg()[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
