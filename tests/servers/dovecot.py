"""A throwaway Dovecot IMAP server on 127.0.0.1 for tests.

Everything lives under one temporary directory: the configuration, a self-signed CA
and a server certificate for ``127.0.0.1``/``localhost`` (so tests verify TLS instead of
turning it off), passwd-file users with plain passwords, a master user that may act as
any user (SASL PLAIN authorization identity), the maildirs, and the log.

Two listeners: ``port`` (plain IMAP offering STARTTLS) and ``tls_port`` (implicit TLS).
IDLE is on (Dovecot always offers it).  XOAUTH2/OAUTHBEARER work against a small token
introspection endpoint served in-process: :meth:`DovecotServer.oauth_token` issues a
token for a user.

Usage::

    with DovecotServer() as server:
        user = server.add_user()
        with server.client(user) as imap:
            imap.append("INBOX", b"Subject: hi\\r\\n\\r\\nbody\\r\\n")

When the tests run as root, Dovecot runs its login and auth processes as its own
``dovenull``/``dovecot`` users and the mail processes as ``nobody``, which owns the mail
directories; the temporary directory is made traversable (0755) because login fails
with "Temporary authentication failure" otherwise.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import grp
import ipaddress
import itertools
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import parse_qs

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from imapclient import IMAPClient

from tests.servers.ports import HOST, free_port

_names = itertools.count(1)


def dovecot_binary() -> str | None:
    """The path of the ``dovecot`` binary, or None when it is not installed."""
    return shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.access(p, os.X_OK)), None
    )


# -- certificates -------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateAuthority:
    cert_file: Path
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "umfax tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_ca(directory: Path, name: str = "umfax test CA") -> CertificateAuthority:
    """A new self-signed CA; its certificate is written to ``directory/<name>.pem``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    subject = _name(name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = directory / (name.replace(" ", "-") + ".pem")
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return CertificateAuthority(path, key, cert)


def make_server_cert(ca: CertificateAuthority, cert_file: Path, key_file: Path) -> None:
    """A server certificate for 127.0.0.1 and localhost, signed by ``ca``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    cert_file.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM) + ca.cert.public_bytes(serialization.Encoding.PEM)
    )
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)


# -- OAuth 2 token introspection ------------------------------------------------------------


class _Introspection:
    """An RFC 7662-style introspection endpoint that Dovecot's oauth2 passdb POSTs to."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}  # token -> username
        tokens = self.tokens

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                token = (form.get("token") or [""])[0]
                user = tokens.get(token)
                body = json.dumps({"active": True, "username": user} if user else {"active": False})
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, name="oauth2-introspection")
        self.thread.daemon = True
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the server -------------------------------------------------------------------------


@dataclass(frozen=True)
class ImapUser:
    name: str  # the login, an email address
    password: str

    @property
    def email(self) -> str:
        return self.name


class DovecotError(RuntimeError):
    pass


def _mail_owner() -> tuple[int, int, str, str]:
    """uid, gid and their names for the mail processes and maildirs."""
    if os.geteuid() == 0:
        return (
            pwd.getpwnam("nobody").pw_uid,
            grp.getgrnam("nogroup").gr_gid,
            "nobody",
            "nogroup",
        )
    uid, gid = os.geteuid(), os.getegid()
    return uid, gid, pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name


class DovecotServer:
    """A Dovecot instance under a temporary directory; a context manager.

    Attributes after :meth:`start`: ``host``, ``port`` (plain, STARTTLS offered),
    ``tls_port`` (implicit TLS), ``ca_file`` (the CA that signed the server certificate,
    for ``ca_file`` settings and ``ssl.create_default_context(cafile=...)``),
    ``master_user``/``master_password`` (may act as any user via SASL PLAIN authzid).
    """

    host = HOST

    def __init__(
        self,
        root: Path | None = None,
        *,
        start_timeout: float = 10.0,
        imap_capability: str | None = None,
    ) -> None:
        """``imap_capability``: what to advertise after login instead of Dovecot's list
        (e.g. ``"IMAP4rev1 UIDPLUS"`` to look like a server without IDLE and MOVE)."""
        binary = dovecot_binary()
        if binary is None:
            raise DovecotError("dovecot is not installed (apt-get install dovecot-imapd)")
        self.binary = binary
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="umfax-dovecot-")) if root is None else root
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # mail processes run as an unprivileged user: must traverse
        self.start_timeout = start_timeout
        self.imap_capability = imap_capability
        self.port = free_port()
        self.tls_port = free_port()
        self.master_user = "umfax-master"
        self.master_password = secrets.token_urlsafe(12)
        self.users: dict[str, ImapUser] = {}
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._oauth: _Introspection | None = None
        self.uid, self.gid, self._user_name, self._group_name = _mail_owner()

        self.conf_file = self.root / "dovecot.conf"
        self.log_file = self.root / "dovecot.log"
        self.users_dir = self.root / "users"
        self.masters_file = self.root / "masters"
        self.home = self.root / "home"
        self.ca = make_ca(self.root)
        self.ca_file = self.ca.cert_file
        self.cert_file = self.root / "server.pem"
        self.key_file = self.root / "server.key"
        make_server_cert(self.ca, self.cert_file, self.key_file)

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> DovecotServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        if self._oauth is None:
            self._oauth = _Introspection()
        self._write_config()
        self._process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.conf_file)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: stop() ends every child
        )
        deadline = time.monotonic() + self.start_timeout
        for port in (self.port, self.tls_port):
            while True:
                if self._process.poll() is not None:
                    err = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                    self._process = None
                    raise DovecotError(f"dovecot exited at start: {err}\n{self.log_text()}")
                try:
                    with socket.create_connection((HOST, port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise DovecotError(f"dovecot did not listen on {port}:\n{self.log_text()}") from None
                    time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server and every process of it, as a crash would: clients lose their
        connections at once.  :meth:`start` again later (same ports, same mailboxes)."""
        proc, self._process = self._process, None
        if proc is None:
            return
        group = proc.pid  # the session leader: its pid is the process group id
        # The master alone would leave logged-in imap processes serving their clients,
        # and takes 1.5 s to shut down cleanly: after a short grace, kill them all.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.3)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        if self._oauth is not None:
            self._oauth.close()
            self._oauth = None
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def log_text(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    # -- users --------------------------------------------------------------------------------

    def add_user(self, name: str | None = None, password: str | None = None) -> ImapUser:
        """A new mail user (default: a unique ``userN-xxxx@example.test``) with an empty INBOX."""
        with self._lock:
            if name is None:
                name = f"user{next(_names)}-{secrets.token_hex(3)}@example.test"
            if name in self.users or ":" in name:
                raise ValueError(f"user {name!r} exists or is not a valid name")
            user = ImapUser(name, password or secrets.token_urlsafe(12))
            home = self.home / name
            home.mkdir(parents=True)
            os.chown(home, self.uid, self.gid)
            # One passwd-file per user: Dovecot re-reads a changed file at most once a
            # second, a new file at once.
            entry = self.users_dir / name
            entry.write_text(f"{user.name}:{{PLAIN}}{user.password}::::::\n")
            entry.chmod(0o644)
            self.users[name] = user
            return user

    def oauth_token(self, user: ImapUser) -> str:
        """A bearer token that Dovecot accepts for ``user`` (XOAUTH2, OAUTHBEARER)."""
        if self._oauth is None:
            raise DovecotError("start the server first")
        token = secrets.token_urlsafe(24)
        self._oauth.tokens[token] = user.name
        return token

    # -- clients ------------------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def client(
        self, user: ImapUser | None = None, *, tls: Literal["implicit", "starttls", "none"] = "implicit"
    ) -> IMAPClient:
        """A logged-in IMAPClient (TLS verified against :attr:`ca_file`); a context manager."""
        if tls == "implicit":
            imap = IMAPClient(HOST, self.tls_port, ssl=True, ssl_context=self.ssl_context(), timeout=10)
        else:
            imap = IMAPClient(HOST, self.port, ssl=False, timeout=10)
            if tls == "starttls":
                imap.starttls(self.ssl_context())
        if user is not None:
            imap.login(user.name, user.password)
        return imap

    def master_client(self, user: ImapUser) -> IMAPClient:
        """A client logged in as the master user, acting as ``user``."""
        imap = IMAPClient(HOST, self.tls_port, ssl=True, ssl_context=self.ssl_context(), timeout=10)
        imap.plain_login(self.master_user, self.master_password, authorization_identity=user.name)
        return imap

    # -- configuration ------------------------------------------------------------------------

    def _write_config(self) -> None:
        self.users_dir.mkdir(exist_ok=True)
        self.users_dir.chmod(0o755)
        self.home.mkdir(exist_ok=True)
        os.chown(self.home, self.uid, self.gid)
        self.home.chmod(0o755)
        self.masters_file.write_text(f"{self.master_user}:{{PLAIN}}{self.master_password}::::::\n")
        self.masters_file.chmod(0o644)  # read by the auth process (user dovecot when root)
        assert self._oauth is not None
        oauth_conf = self.root / "oauth2.conf"
        oauth_conf.write_text(
            "introspection_mode = post\n"
            f"introspection_url = http://{HOST}:{self._oauth.port}/introspect\n"
            "force_introspection = yes\n"
            "username_attribute = username\n"
            "active_attribute = active\n"
            "active_value = true\n"
        )
        oauth_conf.chmod(0o644)
        if os.geteuid() == 0:
            users = "default_login_user = dovenull\ndefault_internal_user = dovecot\n"
        else:
            me = self._user_name
            users = (
                f"default_login_user = {me}\ndefault_internal_user = {me}\n"
                "service imap-login {\n  chroot =\n}\n"
                f"service auth {{\n  user = {me}\n}}\n"
            )
        capability = (
            f"protocol imap {{\n  imap_capability = {self.imap_capability}\n}}\n"
            if self.imap_capability
            else ""
        )
        run = self.root / "run"
        state = self.root / "state"
        for path in (run, state):
            path.mkdir(exist_ok=True)
        self.conf_file.write_text(
            f"""# generated by tests/servers/dovecot.py
base_dir = {run}
state_dir = {state}
instance_name = umfax-test-{self.port}
log_path = {self.log_file}
info_log_path = {self.log_file}
protocols = imap
listen = {HOST}
{users}
ssl = yes
ssl_cert = <{self.cert_file}
ssl_key = <{self.key_file}
disable_plaintext_auth = no
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
auth_mechanisms = plain login xoauth2 oauthbearer
auth_verbose = yes
mail_location = maildir:~/Maildir
mail_uid = {self.uid}
mail_gid = {self.gid}
first_valid_uid = 1
first_valid_gid = 1
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {self.port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {self.tls_port}
    ssl = yes
  }}
}}
service imap {{
  process_limit = 200
}}
service anvil {{
  # no auth penalty: tests fail logins on purpose and must not slow the next ones
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
{capability}
passdb {{
  driver = passwd-file
  master = yes
  pass = yes
  args = scheme=PLAIN {self.masters_file}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.users_dir}/%u
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {oauth_conf}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.users_dir}/%u
  default_fields = uid={self.uid} gid={self.gid} home={self.home}/%u
}}
"""
        )


def dovecot_session() -> Iterator[DovecotServer]:
    """For a pytest fixture: ``yield from dovecot_session()``."""
    with DovecotServer() as server:
        yield server
