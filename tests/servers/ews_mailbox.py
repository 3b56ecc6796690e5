"""The mailboxes of the fake EWS endpoint (:mod:`tests.servers.ews`): folders, items,
pull subscriptions and their events, as the operations (:mod:`tests.servers.ews_operations`)
read and change them."""

from __future__ import annotations

import base64
import itertools
import os
import threading
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

DISTINGUISHED = {
    "root": ("Root", None, "IPF.Note"),
    "msgfolderroot": ("Top of Information Store", "root", "IPF.Note"),
    "inbox": ("Inbox", "msgfolderroot", "IPF.Note"),
    "sentitems": ("Sent Items", "msgfolderroot", "IPF.Note"),
    "deleteditems": ("Deleted Items", "msgfolderroot", "IPF.Note"),
    "drafts": ("Drafts", "msgfolderroot", "IPF.Note"),
}

_ids = itertools.count(1)


def new_id(kind: str) -> str:
    """An opaque, base64-looking id as Exchange hands out (unique across mailboxes)."""
    return base64.b64encode(f"umfax-fake-{kind}-{next(_ids):08d}-{os.urandom(6).hex()}".encode()).decode()


@dataclass
class Folder:
    id: str
    name: str
    parent_id: str | None
    distinguished: str = ""
    folder_class: str = "IPF.Note"


@dataclass
class Item:
    id: str
    folder_id: str
    mime: bytes
    item_class: str = "IPM.Note"
    subject: str = ""
    changekey: str = field(default_factory=lambda: base64.b64encode(os.urandom(9)).decode())


@dataclass
class Subscription:
    """A pull subscription: the folders watched and the events since it began."""

    id: str
    folder_ids: set[str]
    events: list[str] = field(default_factory=list)  # event XML, the watermark is its index + 1


def watermark(subscription: str, seq: int) -> str:
    """The watermark after event ``seq`` of a subscription."""
    return base64.b64encode(f"{subscription}|{seq}".encode()).decode()


class MailboxState:
    """One mailbox: folders by id, items by id, pull subscriptions by id."""

    def __init__(self, address: str) -> None:
        self.address = address.lower()
        self.folders: dict[str, Folder] = {}
        self.items: dict[str, Item] = {}
        self.lock = threading.RLock()
        self.subscriptions: dict[str, Subscription] = {}
        for key, (name, parent, cls) in DISTINGUISHED.items():
            parent_id = self.distinguished(parent).id if parent else None
            folder = Folder(new_id("folder"), name, parent_id, key, cls)
            self.folders[folder.id] = folder

    def distinguished(self, key: str) -> Folder:
        return next(f for f in self.folders.values() if f.distinguished == key)

    def folder_named(self, path: str) -> Folder | None:
        """A folder by display-name path from the top of the store ("Inbox", "Faxes/Done")."""
        current = self.distinguished("msgfolderroot")
        for part in path.split("/"):
            found = [
                f
                for f in self.folders.values()
                if f.parent_id == current.id and f.name.lower() == part.lower()
            ]
            if not found:
                return None
            current = found[0]
        return current

    def deliver(self, mime: bytes, folder: str = "Inbox", item_class: str = "IPM.Note") -> str:
        """A message arrives (as the transport would put it there); its item id."""
        with self.lock:
            target = self.folder_named(folder)
            if target is None:
                raise KeyError(f"no folder {folder!r} in {self.address}")
            item = Item(new_id("item"), target.id, mime, item_class, mime_subject(mime))
            self.items[item.id] = item
            self.notify("NewMailEvent", item)
            return item.id

    def notify(self, kind: str, item: Item, old_folder: str | None = None, old_id: str | None = None) -> None:
        """Queue an event for the subscriptions on the item's folder (or, moved, its old one)."""
        from datetime import UTC, datetime

        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for sub in self.subscriptions.values():
            if item.folder_id not in sub.folder_ids and old_folder not in sub.folder_ids:
                continue
            old = (
                f"<t:OldItemId Id={quoteattr(old_id or '')}/>"
                f'<t:OldParentFolderId Id={quoteattr(old_folder or "")} ChangeKey="AQAAAA=="/>'
                if old_folder
                else ""
            )
            mark = watermark(sub.id, len(sub.events) + 1)
            sub.events.append(
                f"<t:{kind}><t:Watermark>{mark}</t:Watermark><t:TimeStamp>{stamp}</t:TimeStamp>"
                f"<t:ItemId Id={quoteattr(item.id)} ChangeKey={quoteattr(item.changekey)}/>"
                f'<t:ParentFolderId Id={quoteattr(item.folder_id)} ChangeKey="AQAAAA=="/>{old}</t:{kind}>'
            )

    def items_in(self, folder: str) -> list[Item]:
        with self.lock:
            target = self.folder_named(folder)
            if target is None:
                return []
            return [i for i in self.items.values() if i.folder_id == target.id]


def mime_subject(mime: bytes) -> str:
    """The Subject of a MIME message (the item's subject)."""
    from email import policy
    from email.parser import BytesHeaderParser

    return str(BytesHeaderParser(policy=policy.default).parsebytes(mime).get("Subject", ""))


class EwsFault(Exception):
    """An error ResponseMessage: ``code`` is the EWS ResponseCode."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
