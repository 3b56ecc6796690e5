"""Folder delivery: a message (and its PDF or WAV, if it has one) written into a local folder.

For users with ``delivery = "folder"``: a shared drive, a scanner inbox, a folder another
program watches.  Files are written atomically (a temporary name, then a rename) and
named by the notice, so a repeated delivery after a crash overwrites the same files.
"""

from __future__ import annotations

import os
import re

from umfax.notifications.ports import FolderDrop

#: Attachments written beside the message, by type, and their file suffix.
DOCUMENTS = {"application/pdf": ".pdf", "audio/wav": ".wav"}


class FolderDelivery:
    def deliver(self, drop: FolderDrop) -> None:
        """Write ``drop.message`` as ``<stem>.eml`` and its PDF (a fax) as ``<stem>.pdf`` or
        its audio (a voice message) as ``<stem>.wav``."""
        folder = drop.folder
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{drop.created_at:%Y%m%d-%H%M%S}-{re.sub(r'[^A-Za-z0-9]+', '-', drop.origin).strip('-')}"
        files = {f"{stem}.eml": bytes(drop.message)}
        for part in drop.message.iter_attachments():
            suffix = DOCUMENTS.get(part.get_content_type())
            if suffix is not None:
                files[f"{stem}{suffix}"] = part.get_payload(decode=True)  # type: ignore[assignment]
        for name, data in files.items():
            temp = folder / f".{name}.tmp"
            temp.write_bytes(data)
            os.replace(temp, folder / name)
