"""A private CUPS scheduler for the tests: its own configuration, spool and port on
127.0.0.1, started with ``cupsd -f`` and stopped with the test."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.servers.ports import HOST, free_port

CUPSD_CONF = """Listen {host}:{port}
LogLevel debug
WebInterface No
Browsing No
DefaultAuthType None
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
"""

FILES_CONF = """ServerRoot {root}/conf
RequestRoot {root}/spool
CacheDir {root}/cache
StateDir {root}/state
TempDir {root}/tmp
ErrorLog {root}/log/error_log
AccessLog {root}/log/access_log
PageLog {root}/log/page_log
ServerBin /usr/lib/cups
DataDir /usr/share/cups
User {user}
Group {group}
SystemGroup {system_group}
Sandboxing Relaxed
"""


class PrivateCups:
    def __init__(self) -> None:
        # Not under pytest's tmp_path: cupsd's filters run as 'lp' (cupsd will not run
        # them as root), which must reach the spool.
        self.root = Path(tempfile.mkdtemp(prefix="umfax-cups-"))
        self.port = free_port()
        self.server = f"{HOST}:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> None:
        # cupsd runs its filters and backends as User/Group, never as root, and wants the
        # administrators' SystemGroup to differ: as root that is lp and root.
        account = pwd.getpwnam("lp")
        user, group = account.pw_name, account.pw_gid
        group_name = grp.getgrgid(group).gr_name
        system_group = grp.getgrgid(os.getegid()).gr_name
        self.root.chmod(0o755)
        for sub in ("conf", "spool", "cache", "state", "tmp", "log"):
            (self.root / sub).mkdir()
            if os.geteuid() == 0:
                os.chown(self.root / sub, account.pw_uid, group)
        (self.root / "conf" / "cupsd.conf").write_text(CUPSD_CONF.format(host=HOST, port=self.port))
        (self.root / "conf" / "cups-files.conf").write_text(
            FILES_CONF.format(root=self.root, user=user, group=group_name, system_group=system_group)
        )
        self.process = subprocess.Popen(
            [
                "cupsd",
                "-f",
                "-c",
                str(self.root / "conf" / "cupsd.conf"),
                "-s",
                str(self.root / "conf" / "cups-files.conf"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while "scheduler is running" not in self.run("lpstat", "-r", check=False).stdout:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"cupsd did not start: {self.log()[-2000:]}")
            time.sleep(0.05)

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=60,
            check=check,
            env={**os.environ, "CUPS_SERVER": self.server},
        )

    def log(self) -> str:
        path = self.root / "log" / "error_log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)
