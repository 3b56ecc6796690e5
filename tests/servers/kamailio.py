"""A throwaway kamailio on 127.0.0.1 for tests: a digest registrar and a record-routing,
stateful proxy, the SIP server in the path of a trunk.

One port, UDP and TCP.  Users and passwords come from the fixture and live in an
``htable`` filled at start (no database).  What the configuration does:

- REGISTER: digest authentication (401, ``qop=auth``; ``stale=true`` once a nonce is older
  than ``nonce_expire``), then ``save("location")``.
- Requests from one of the users (``From`` user known) other than REGISTER: 407 until
  they carry valid Proxy-Authorization; the credentials are removed before forwarding.
- New INVITEs (and other out-of-dialog requests) are record-routed and relayed statefully
  to the registered contact of the Request-URI user (``lookup``), else to the static
  ``next_hop`` (``host:port``) when one is given, else answered 404.
- In-dialog requests follow the Route set (``loose_route``); OPTIONS to the server itself
  get 200 (the start-up probe uses it).

Usage::

    with KamailioServer({"alice": "secret"}, next_hop=("127.0.0.1", far_port)) as sip:
        sip.port  # REGISTER to sip:127.0.0.1:<port>, realm sip.realm
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from tests.servers.daemon import Daemon
from tests.servers.ports import HOST, free_port

_CONFIG = """#!KAMAILIO
debug={debug}
log_stderror=yes
memdbg=5
memlog=5
children=2
tcp_children=2
auto_aliases=no
listen=udp:{host}:{port}
listen=tcp:{host}:{port}
alias="{host}:{port}"
alias="{realm}"

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "htable.so"
loadmodule "auth.so"

modparam("htable", "htable", "users=>size=4;")
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 3600)
modparam("rr", "enable_full_lr", 1)
modparam("auth", "secret", "{secret}")
modparam("auth", "nonce_expire", {nonce_expire})
modparam("auth", "algorithm", "{algorithm}")

event_route[htable:mod-init] {{
{users}
}}

request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (!sanity_check("17895", "7")) {{ xlog("L_WARN", "malformed request from $si:$sp\\n"); exit; }}
    if (is_method("OPTIONS") && uri == myself && $rU == $null) {{
        sl_send_reply("200", "OK"); exit;
    }}
    if (has_totag()) {{ route(WITHINDLG); exit; }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{ t_relay(); }}
        exit;
    }}
    t_check_trans();
    if (is_method("REGISTER")) {{ route(REGISTRAR); exit; }}
    if ($sht(users=>$fU) != $null) {{ route(PROXYAUTH); }}
    remove_hf("Route");
    if (is_method("INVITE|SUBSCRIBE")) {{ record_route(); }}
    if (lookup("location")) {{ route(RELAY); exit; }}
    {next_hop_route}
    sl_send_reply("404", "Not Found");
    exit;
}}

route[WITHINDLG] {{
    if (loose_route()) {{ route(RELAY); exit; }}
    if (is_method("ACK")) {{
        if (t_check_trans()) {{ route(RELAY); }}
        exit;
    }}
    sl_send_reply("404", "Not here");
}}

route[REGISTRAR] {{
    if (!has_credentials("{realm}") || $sht(users=>$au) == $null) {{
        www_challenge("{realm}", "1"); exit;
    }}
    $var(rc) = pv_www_authenticate("{realm}", "$sht(users=>$au)", "0");
    if ($var(rc) < 0) {{
        if ($var(rc) == -4) {{
            www_challenge("{realm}", "17");  # stale=true, qop=auth
        }} else {{
            www_challenge("{realm}", "1");  # qop=auth
        }}
        exit;
    }}
    consume_credentials();
    if (!save("location")) {{ sl_reply_error(); }}
}}

route[PROXYAUTH] {{
    if (!has_credentials("{realm}") || $sht(users=>$au) == $null) {{
        proxy_challenge("{realm}", "1"); exit;
    }}
    $var(rc) = pv_proxy_authenticate("{realm}", "$sht(users=>$au)", "0");
    if ($var(rc) < 0) {{
        if ($var(rc) == -4) {{
            proxy_challenge("{realm}", "17");  # stale=true, qop=auth
        }} else {{
            proxy_challenge("{realm}", "1");  # qop=auth
        }}
        exit;
    }}
    consume_credentials();
}}

route[RELAY] {{
    if (!t_relay()) {{ sl_reply_error(); }}
    exit;
}}
"""


def kamailio_binary() -> str | None:
    """The path of the ``kamailio`` binary, or None when it is not installed."""
    return shutil.which("kamailio") or next(
        (p for p in ("/usr/sbin/kamailio", "/usr/local/sbin/kamailio") if os.access(p, os.X_OK)), None
    )


def free_tcp_udp_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (kamailio listens on both)."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
        return port
    raise KamailioError("no port free for both TCP and UDP")


class KamailioError(RuntimeError):
    pass


class KamailioServer(Daemon):
    """kamailio under a temporary directory; a context manager.

    ``users``: username -> password for digest auth (REGISTER 401, other requests from
    them 407).  ``next_hop``: ``(host, port)`` where requests for unregistered users go.
    ``algorithm``: ``"MD5"`` or ``"SHA-256"``.  ``nonce_expire``: seconds before a nonce
    is stale.  Attributes: ``host``, ``port``, ``realm``, ``uri`` (``sip:host:port``),
    ``log_file``.
    """

    host = HOST

    def __init__(
        self,
        users: Mapping[str, str],
        *,
        next_hop: tuple[str, int] | None = None,
        realm: str = "umfax.test",
        algorithm: str = "MD5",
        nonce_expire: int = 300,
        debug: int = 2,
        start_timeout: float = 5.0,
    ) -> None:
        binary = kamailio_binary()
        if binary is None:
            raise KamailioError("kamailio is not installed (apt-get install kamailio)")
        for name, password in users.items():
            if not name.isalnum() or '"' in password or "\\" in password:
                raise ValueError(f"user {name!r}: alphanumeric names, no quotes/backslashes in passwords")
        self.binary = binary
        self.users = dict(users)
        self.next_hop = next_hop
        self.realm = realm
        self.algorithm = algorithm
        self.nonce_expire = nonce_expire
        self.debug = debug
        self.start_timeout = start_timeout
        self.port = free_tcp_udp_port()
        self.root = Path(tempfile.mkdtemp(prefix="umfax-kamailio-"))
        self.config_file = self.root / "kamailio.cfg"
        self.log_file = self.root / "kamailio.log"
        self.pid_file = self.root / "kamailio.pid"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"sip:{self.host}:{self.port}"

    def config_text(self) -> str:
        users = "\n".join(f'    $sht(users=>{name}) = "{pw}";' for name, pw in self.users.items())
        hop = f'$du = "sip:{self.next_hop[0]}:{self.next_hop[1]}"; route(RELAY);' if self.next_hop else ""
        return _CONFIG.format(
            debug=self.debug,
            host=self.host,
            port=self.port,
            realm=self.realm,
            secret=secrets.token_hex(16),
            nonce_expire=self.nonce_expire,
            algorithm=self.algorithm,
            users=users,
            next_hop_route=hop,
        )

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self.config_file.write_text(self.config_text())
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    self.binary,
                    "-DD",
                    "-E",
                    "-m",
                    "32",
                    "-M",
                    "8",
                    "-f",
                    str(self.config_file),
                    "-P",
                    str(self.pid_file),
                    "-Y",
                    str(self.root),
                    "-w",
                    str(self.root),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own process group: stop() ends every child
            )
        deadline = time.monotonic() + self.start_timeout
        while not self._answers_options():
            if self._process.poll() is not None:
                self._process = None
                raise KamailioError(f"kamailio exited at start:\n{self.log_text()}")
            if time.monotonic() > deadline:
                self.stop()
                raise KamailioError(f"kamailio did not answer OPTIONS on {self.port}:\n{self.log_text()}")

    def _answers_options(self) -> bool:
        """One OPTIONS over UDP; True when kamailio answered 200."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((HOST, 0))
            sock.settimeout(0.1)
            local = sock.getsockname()[1]
            branch = "z9hG4bK" + secrets.token_hex(6)
            probe = (
                f"OPTIONS {self.uri} SIP/2.0\r\nVia: SIP/2.0/UDP {HOST}:{local};branch={branch}\r\n"
                f"Max-Forwards: 70\r\nFrom: <sip:probe@{HOST}>;tag=p\r\nTo: <{self.uri}>\r\n"
                f"Call-ID: {branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            )
            sock.sendto(probe.encode(), (HOST, self.port))
            try:
                data = sock.recv(4096)
            except OSError:
                return False
            return data.startswith(b"SIP/2.0 200")
