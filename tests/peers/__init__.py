"""Real third-party fax peers (iaxmodem, efax, HylaFAX) for umfax's tests.

Plain helpers live in the submodules (no pytest needed); pytest fixtures are in
``tests.peers.fixtures``. See README.md in this directory.
"""

from .efax import EfaxCall, EfaxReceiver, EfaxSendResult, efax_call, efax_receive, efax_send
from .faximage import (
    PageComparison,
    compare_pages,
    load_fax_image,
    load_fax_pages,
    make_test_page,
    received_pages,
    render_postscript,
    write_fax_tiff,
)
from .hylafax import HylaFax, HylaFaxCall, HylaFaxReceipt, efax_to_hylafax, start_hylafax
from .iaxmodem import IaxModem, IaxModemPair, start_iaxmodem, start_iaxmodem_pair
from .modem_io import ModemPort, at_command
from .procs import PeerError, peer_workdir

__all__ = [
    "EfaxCall",
    "EfaxReceiver",
    "EfaxSendResult",
    "HylaFax",
    "HylaFaxCall",
    "HylaFaxReceipt",
    "IaxModem",
    "IaxModemPair",
    "ModemPort",
    "PageComparison",
    "PeerError",
    "at_command",
    "compare_pages",
    "efax_call",
    "efax_receive",
    "efax_send",
    "efax_to_hylafax",
    "load_fax_image",
    "load_fax_pages",
    "make_test_page",
    "peer_workdir",
    "received_pages",
    "render_postscript",
    "start_hylafax",
    "start_iaxmodem",
    "start_iaxmodem_pair",
    "write_fax_tiff",
]
