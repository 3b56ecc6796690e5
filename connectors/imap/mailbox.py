"""The intake's view of its folder: what a session's SELECT offered, which messages are
still to do, and how a handled message is settled (moved, or flagged with our keyword).

Which messages are still to do is decided by where they are and by our own keyword,
never by ``\\Seen``: people read the fax mailbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from imapclient import IMAPClient

from connectors.imap.connection import ensure_folder
from umfax.config import ImapConnectorConfig

logger = logging.getLogger(__name__)

DONE_KEYWORD = "$UmfaxDone"  # flag mode: the message has been handled
REFUSED_KEYWORD = "$UmfaxRefused"  # flag mode: ... and it was refused or invalid
FALLBACK_FLAGS = ("\\Flagged", "\\Seen")  # flag mode when the folder takes no keywords


@dataclass(slots=True)
class SelectedFolder:
    """What the selected folder of one session offers."""

    uidvalidity: int
    keywords: bool  # PERMANENTFLAGS allows our keyword
    idle: bool
    move: bool
    uidplus: bool
    folders: set[str] = field(default_factory=set)  # targets known to exist


def search_criteria(config: ImapConnectorConfig, folder: SelectedFolder) -> list[str]:
    """The SEARCH for the messages still to do."""
    if config.processed == "move":
        return ["UNDELETED"]
    if folder.keywords:
        return ["UNDELETED", "UNKEYWORD", DONE_KEYWORD]
    return ["UNDELETED", "OR", "UNFLAGGED", "UNSEEN"]


def settle(
    client: IMAPClient,
    config: ImapConnectorConfig,
    folder: SelectedFolder,
    uid: int,
    *,
    refused: bool,
    label: str,
) -> str:
    """Move or flag a message ``accept`` has dealt with; where it went.  ``label``: the
    connector's, for the log."""
    cfg = config
    if cfg.processed == "move":
        target = cfg.refused_folder if refused else cfg.processed_folder
        if target not in folder.folders:
            if ensure_folder(client, target):
                logger.info("created folder", extra={"connector": label, "folder": target})
            folder.folders.add(target)
        if folder.move:
            client.move([uid], target)
        else:
            client.copy([uid], target)
            client.add_flags([uid], ["\\Deleted"], silent=True)
            if folder.uidplus:
                client.uid_expunge([uid])
            else:
                client.expunge()
        return target
    if folder.keywords:
        flags = [DONE_KEYWORD, REFUSED_KEYWORD] if refused else [DONE_KEYWORD]
    else:
        flags = list(FALLBACK_FLAGS)
    client.add_flags([uid], flags, silent=True)
    return " ".join(flags)


def same_folder(a: str, b: str) -> bool:
    """Whether two folder names are the same folder (INBOX is case-insensitive)."""
    if a.upper() == "INBOX" or b.upper() == "INBOX":
        return a.upper() == b.upper()
    return a == b
