"""A real ``umfax serve`` process on simulated lines, and the CLI run as a process.

:class:`UmfaxSite` is one test site (a config under a temporary directory, its data, its
servers); the ``site`` and ``sites`` fixtures (:mod:`tests.servers.fixtures`) make them
and kill whatever they started."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class UmfaxSite:
    root: Path
    config: Path
    env: dict[str, str]
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def cli(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "umfax", *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"umfax {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def spawn(self, log_name: str) -> subprocess.Popen[bytes]:
        """``umfax serve`` in the background, its output in ``root/log_name``."""
        log = open(self.root / log_name, "wb")  # noqa: SIM115 - kept open for the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "umfax", "serve", "--config", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
        )
        self.servers.append(proc)
        return proc

    def start(self) -> subprocess.Popen[bytes]:
        proc = self.spawn(f"serve-{len(self.servers)}.log")
        self.wait_for(
            lambda: all(line["state"] == "idle" for line in self.json("lines")), 60, "lines to come up"
        )
        return proc

    def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
        proc.send_signal(sig)
        return proc.wait(timeout=60)

    def mail_recorded(self) -> int:
        """Messages the mail intake has committed (SQLite store under data_dir)."""
        db = self.root / "data" / "umfax.db"
        if not db.exists():
            return 0
        with sqlite3.connect(db) as conn:
            try:
                return int(conn.execute("SELECT count(*) FROM mail_messages").fetchone()[0])
            except sqlite3.OperationalError:  # not made yet
                return 0

    def kill_mid_batch(self, at_least: int = 3) -> int:
        """Start ``umfax serve``, SIGKILL it once ``at_least`` messages are committed; how
        many were."""
        proc = self.spawn("serve-killed.log")
        self.wait_for(lambda: self.mail_recorded() >= at_least, 60, f"{at_least} messages taken in")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        return self.mail_recorded()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.root.glob("serve-*.log")))

    def wait_for(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.2)
        raise AssertionError(
            f"timed out after {timeout}s waiting for {what}\n--- server log ---\n{self.logs()}"
        )


def new_site(root: Path, *, speed: int = 20) -> UmfaxSite:
    """A site under ``root`` with the head of a config (:func:`site_toml`) and an
    environment without the caller's ``UMFAX_*`` variables."""
    config = root / "umfax.toml"
    config.write_text(site_toml(root, speed=speed))
    env = {k: v for k, v in os.environ.items() if not k.startswith("UMFAX_")}
    return UmfaxSite(root, config, env)


def kill_servers(site: UmfaxSite) -> None:
    """Kill what ``site`` started and is still running (a test's cleanup)."""
    for proc in site.servers:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def site_toml(root: Path, *, speed: int = 40) -> str:
    """The head of a test site's umfax.toml: data under ``root``, a quick queue, simulated
    lines at ``speed``, the API on a free port."""
    return (
        f'[server]\ndata_dir = "{root / "data"}"\nlog_level = "debug"\n'
        '[queue]\nlease = "6s"\npoll_interval = "0.2s"\n'
        f"[simulator]\nspeed = {speed}\n"
        '[api]\nlisten = "127.0.0.1:0"\n'
    )


def fax_mailbox_site(
    root: Path, *, kind: str, account: str, mailbox: str, user: str, env: dict[str, str]
) -> UmfaxSite:
    """A site whose fax ``mailbox`` is read by a ``kind`` connector ("exchange", "graph")
    and whose one user, alice at ``user``, gets her reports through the same kind
    (``[mail.<kind>]``); ``account`` is the TOML of the connection, ``env`` its secrets."""
    config = root / "umfax.toml"
    config.write_text(
        site_toml(root)
        + f"""
[mail]
fax_domains = ["fax.example.com"]
from_address = "fax@allowed.example"
[mail.{kind}]
{account}
[[connectors]]
type = "{kind}"
name = "{kind}:fax"
mailbox = "{mailbox}"
poll_interval = "0.2s"
allowed_senders = ["@allowed.example"]
refusal_replies = false
{account}
[[users]]
name = "alice"
email = "{user}"
delivery = "{kind}"
"""
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UMFAX_")}
    return UmfaxSite(root, config, clean | env)
