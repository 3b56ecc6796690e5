"""The SOAP side of the fake EWS endpoint (:mod:`tests.servers.ews`): envelopes, faults,
response messages, and one function per operation, from a request element and a
mailbox (:mod:`tests.servers.ews_mailbox`) to the response messages."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from tests.servers.ews_mailbox import (
    EwsFault,
    Folder,
    Item,
    MailboxState,
    Subscription,
    mime_subject,
    new_id,
    watermark,
)

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
NS = {"s": SOAP, "m": M, "t": T}
PATH = "/EWS/Exchange.asmx"

#: What Exchange Server 2019 CU12 puts in every response's SOAP header.
SERVER_VERSION = (
    '<h:ServerVersionInfo MajorVersion="15" MinorVersion="2" MajorBuildNumber="1118" '
    'MinorBuildNumber="7" Version="V2017_07_11" '
    'xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types" '
    'xmlns="http://schemas.microsoft.com/exchange/services/2006/types" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema"/>'
)


def text_at(el: ET.Element, path: str) -> str | None:
    """The text of the element at ``path`` under ``el``, or None."""
    found = el.find(path, NS)
    return found.text if found is not None else None


def soap_fault(text: str, code: str = "ErrorSchemaValidation") -> bytes:
    """A SOAP fault, as Exchange sends for requests it cannot take at all."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}"><s:Body><s:Fault>'
        '<faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:'
        f'{code}</faultcode><faultstring xml:lang="en-US">{escape(text)}</faultstring>'
        f'<detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{code}</e:ResponseCode>'
        f'<e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{escape(text)}</e:Message></detail>'
        "</s:Fault></s:Body></s:Envelope>"
    ).encode()


def soap_envelope(name: str, messages: list[str]) -> bytes:
    """The response envelope of operation ``name`` around its response messages."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}"><s:Header>{SERVER_VERSION}</s:Header>'
        '<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        f'<m:{name}Response xmlns:m="{M}" xmlns:t="{T}"><m:ResponseMessages>'
        + "".join(messages)
        + f"</m:ResponseMessages></m:{name}Response></s:Body></s:Envelope>"
    ).encode()


def ok(name: str, inner: str) -> str:
    """A successful response message of operation ``name``."""
    return (
        f'<m:{name}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
        f"{inner}</m:{name}ResponseMessage>"
    )


def error(name: str, exc: EwsFault) -> str:
    """An error response message of operation ``name``."""
    return (
        f'<m:{name}ResponseMessage ResponseClass="Error"><m:MessageText>{escape(exc.text)}</m:MessageText>'
        f"<m:ResponseCode>{exc.code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
        f"</m:{name}ResponseMessage>"
    )


# -- operations --------------------------------------------------------------------------------


def _folder_xml(box: MailboxState, folder: Folder) -> str:
    parent = (
        f'<t:ParentFolderId Id={quoteattr(folder.parent_id)} ChangeKey="AQAAAA=="/>'
        if folder.parent_id
        else ""
    )
    count = sum(1 for i in box.items.values() if i.folder_id == folder.id)
    children = sum(1 for f in box.folders.values() if f.parent_id == folder.id)
    return (
        f'<t:Folder><t:FolderId Id={quoteattr(folder.id)} ChangeKey="AQAAABYAAAA="/>{parent}'
        f"<t:FolderClass>{folder.folder_class}</t:FolderClass><t:DisplayName>{escape(folder.name)}</t:DisplayName>"
        f"<t:TotalCount>{count}</t:TotalCount><t:ChildFolderCount>{children}</t:ChildFolderCount>"
        f"<t:UnreadCount>0</t:UnreadCount></t:Folder>"
    )


def _folder_ref(box: MailboxState, el: ET.Element) -> Folder:
    """The folder a FolderId or DistinguishedFolderId element names."""
    tag = el.tag.rpartition("}")[2]
    if tag == "DistinguishedFolderId":
        key = el.get("Id", "")
        try:
            return box.distinguished(key)
        except StopIteration:
            raise EwsFault(
                "ErrorFolderNotFound", "The specified folder could not be found in the store."
            ) from None
    folder = box.folders.get(el.get("Id", ""))
    if folder is None:
        raise EwsFault("ErrorFolderNotFound", "The specified folder could not be found in the store.")
    return folder


def _folder_ids(box: MailboxState, parent: ET.Element | None) -> list[Folder | EwsFault]:
    out: list[Folder | EwsFault] = []
    for el in list(parent) if parent is not None else []:
        try:
            out.append(_folder_ref(box, el))
        except EwsFault as exc:
            out.append(exc)
    return out


def _item_xml(item: Item, *, mime: bool) -> str:
    content = (
        f'<t:MimeContent CharacterSet="UTF-8">{base64.b64encode(item.mime).decode()}</t:MimeContent>'
        if mime
        else ""
    )
    return (
        f"<t:Message>{content}<t:ItemId Id={quoteattr(item.id)} ChangeKey={quoteattr(item.changekey)}/>"
        f'<t:ParentFolderId Id={quoteattr(item.folder_id)} ChangeKey="AQAAAA=="/>'
        f"<t:ItemClass>{escape(item.item_class)}</t:ItemClass><t:Subject>{escape(item.subject)}</t:Subject>"
        f"</t:Message>"
    )


def op_get_folder(box: MailboxState, op: ET.Element) -> list[str]:
    out = []
    for found in _folder_ids(box, op.find("m:FolderIds", NS)):
        if isinstance(found, EwsFault):
            out.append(error("GetFolder", found))
        else:
            out.append(f"<m:Folders>{_folder_xml(box, found)}</m:Folders>")
    return out


def _restriction_name(op: ET.Element) -> str | None:
    equal = op.find("m:Restriction/t:IsEqualTo", NS)
    if equal is None:
        return None
    path = equal.find("t:FieldURI", NS)
    constant = equal.find("t:FieldURIOrConstant/t:Constant", NS)
    if path is None or constant is None or path.get("FieldURI") != "folder:DisplayName":
        raise EwsFault("ErrorUnsupportedQueryFilter", "The restriction is not supported by this server.")
    return constant.get("Value", "")


def op_find_folder(box: MailboxState, op: ET.Element) -> list[str]:
    out = []
    deep = op.get("Traversal") == "Deep"
    try:
        name = _restriction_name(op)
    except EwsFault as exc:
        return [error("FindFolder", exc)]
    for parent in _folder_ids(box, op.find("m:ParentFolderIds", NS)):
        if isinstance(parent, EwsFault):
            out.append(error("FindFolder", parent))
            continue
        found: list[Folder] = []
        level = [parent.id]
        while level:
            children = [f for f in box.folders.values() if f.parent_id in level]
            found.extend(children)
            level = [f.id for f in children] if deep else []
        if name is not None:
            found = [f for f in found if f.name.lower() == name.lower()]
        folders = "".join(_folder_xml(box, f) for f in found)
        out.append(
            f'<m:RootFolder IndexedPagingOffset="{len(found)}" TotalItemsInView="{len(found)}" '
            f'IncludesLastItemInRange="true"><t:Folders>{folders}</t:Folders></m:RootFolder>'
        )
    return out


def op_create_folder(box: MailboxState, op: ET.Element) -> list[str]:
    parents = _folder_ids(box, op.find("m:ParentFolderId", NS))
    if not parents or isinstance(parents[0], EwsFault):
        return [error("CreateFolder", EwsFault("ErrorParentFolderNotFound", "Parent folder not found."))]
    parent = parents[0]
    out = []
    for el in op.findall("m:Folders/t:Folder", NS):
        name = text_at(el, "t:DisplayName") or ""
        if any(f.parent_id == parent.id and f.name.lower() == name.lower() for f in box.folders.values()):
            out.append(
                error(
                    "CreateFolder",
                    EwsFault("ErrorFolderExists", "A folder with the specified name already exists."),
                )
            )
            continue
        folder = Folder(new_id("folder"), name, parent.id, "", text_at(el, "t:FolderClass") or "IPF.Note")
        box.folders[folder.id] = folder
        out.append(
            f'<m:Folders><t:Folder><t:FolderId Id={quoteattr(folder.id)} ChangeKey="AQAAAA=="/>'
            "</t:Folder></m:Folders>"
        )
    return out


def op_find_item(box: MailboxState, op: ET.Element) -> list[str]:
    page = op.find("m:IndexedPageItemView", NS)
    limit = int(page.get("MaxEntriesReturned", "1000")) if page is not None else 1000
    offset = int(page.get("Offset", "0")) if page is not None else 0
    out = []
    for parent in _folder_ids(box, op.find("m:ParentFolderIds", NS)):
        if isinstance(parent, EwsFault):
            out.append(error("FindItem", parent))
            continue
        items = [i for i in box.items.values() if i.folder_id == parent.id]
        chunk = items[offset : offset + limit]
        last = "true" if offset + len(chunk) >= len(items) else "false"
        xml = "".join(_item_xml(i, mime=False) for i in chunk)
        out.append(
            f'<m:RootFolder IndexedPagingOffset="{offset + len(chunk)}" TotalItemsInView="{len(items)}" '
            f'IncludesLastItemInRange="{last}"><t:Items>{xml}</t:Items></m:RootFolder>'
        )
    return out


def _item_refs(box: MailboxState, parent: ET.Element | None) -> list[Item | EwsFault]:
    out: list[Item | EwsFault] = []
    for el in list(parent) if parent is not None else []:
        item = box.items.get(el.get("Id", ""))
        out.append(
            item
            if item is not None
            else EwsFault("ErrorItemNotFound", "The specified object was not found in the store.")
        )
    return out


def op_get_item(box: MailboxState, op: ET.Element) -> list[str]:
    fields = {el.get("FieldURI") for el in op.findall("m:ItemShape/t:AdditionalProperties/t:FieldURI", NS)}
    mime = (
        "item:MimeContent" in fields
        or (text_at(op, "m:ItemShape/t:IncludeMimeContent") or "").lower() == "true"
    )
    out = []
    for found in _item_refs(box, op.find("m:ItemIds", NS)):
        if isinstance(found, EwsFault):
            out.append(error("GetItem", found))
        else:
            out.append(f"<m:Items>{_item_xml(found, mime=mime)}</m:Items>")
    return out


def op_move_item(box: MailboxState, op: ET.Element) -> list[str]:
    target = _folder_ids(box, op.find("m:ToFolderId", NS))
    if not target or isinstance(target[0], EwsFault):
        return [
            error(
                "MoveItem",
                EwsFault("ErrorFolderNotFound", "The specified folder could not be found in the store."),
            )
        ]
    out = []
    for found in _item_refs(box, op.find("m:ItemIds", NS)):
        if isinstance(found, EwsFault):
            out.append(error("MoveItem", found))
            continue
        del box.items[found.id]
        old_id, old_folder = found.id, found.folder_id
        found.id = new_id("item")  # a moved item gets a new id, as in Exchange
        found.folder_id = target[0].id
        box.items[found.id] = found
        box.notify("MovedEvent", found, old_folder, old_id)
        out.append(
            f"<m:Items><t:Message><t:ItemId Id={quoteattr(found.id)} ChangeKey={quoteattr(found.changekey)}/>"
            "</t:Message></m:Items>"
        )
    return out


def op_create_item(box: MailboxState, op: ET.Element) -> list[str]:
    saved = op.find("m:SavedItemFolderId", NS)
    target = _folder_ids(box, saved) if saved is not None else [box.distinguished("drafts")]
    if not target or isinstance(target[0], EwsFault):
        return [
            error(
                "CreateItem",
                EwsFault("ErrorFolderNotFound", "The specified folder could not be found in the store."),
            )
        ]
    if op.get("MessageDisposition") not in (None, "SaveOnly"):
        return [error("CreateItem", EwsFault("ErrorInvalidOperation", "Only SaveOnly is supported here."))]
    out = []
    for el in op.findall("m:Items/t:Message", NS):
        content = text_at(el, "t:MimeContent")
        if not content:
            out.append(
                error(
                    "CreateItem", EwsFault("ErrorInvalidRequest", "This fake stores messages by MimeContent.")
                )
            )
            continue
        mime = base64.b64decode(content)
        item_class = text_at(el, "t:ItemClass") or "IPM.Note"
        for prop in el.findall("t:ExtendedProperty", NS):  # PidTagMessageClass set as a MAPI property
            uri = prop.find("t:ExtendedFieldURI", NS)
            tag = uri.get("PropertyTag", "") if uri is not None else ""
            if tag and int(tag, 0) == 0x001A:
                item_class = text_at(prop, "t:Value") or item_class
        item = Item(new_id("item"), target[0].id, mime, item_class, mime_subject(mime))
        box.items[item.id] = item
        box.notify("CreatedEvent", item)
        out.append(
            f"<m:Items><t:Message><t:ItemId Id={quoteattr(item.id)} ChangeKey={quoteattr(item.changekey)}/>"
            "</t:Message></m:Items>"
        )
    return out


def op_convert_id(box: MailboxState, op: ET.Element) -> list[str]:
    """What Exchange answers exchangelib's version probe (a dummy id)."""
    return [
        error("ConvertId", EwsFault("ErrorInvalidIdMalformed", "Id is malformed."))
        for _ in op.findall("m:SourceIds/t:AlternateId", NS)
    ] or [error("ConvertId", EwsFault("ErrorInvalidIdMalformed", "Id is malformed."))]


def op_subscribe(box: MailboxState, op: ET.Element) -> list[str]:
    request = op.find("m:PullSubscriptionRequest", NS)
    if request is None:
        fault = EwsFault("ErrorInvalidSubscriptionRequest", "Only pull subscriptions are offered here.")
        return [error("Subscribe", fault)]
    folders = _folder_ids(box, request.find("t:FolderIds", NS))
    bad = [f for f in folders if isinstance(f, EwsFault)]
    if bad:
        return [error("Subscribe", bad[0])]
    sub = Subscription(new_id("subscription"), {f.id for f in folders if isinstance(f, Folder)})
    box.subscriptions[sub.id] = sub
    return [
        f"<m:SubscriptionId>{sub.id}</m:SubscriptionId><m:Watermark>{watermark(sub.id, 0)}</m:Watermark>"
    ]


def op_unsubscribe(box: MailboxState, op: ET.Element) -> list[str]:
    if box.subscriptions.pop(text_at(op, "m:SubscriptionId") or "", None) is None:
        fault = EwsFault("ErrorSubscriptionNotFound", "The subscription was not found.")
        return [error("Unsubscribe", fault)]
    return [""]


@dataclass(frozen=True)
class EventRead:
    """One GetEvents answer: where it started in the subscription's events, how many it
    returned, and whether more were waiting."""

    subscription: str
    start: int
    returned: int
    more: bool


def op_get_events(
    box: MailboxState, op: ET.Element, *, page: int = 50, reads: list[EventRead] | None = None
) -> list[str]:
    """The events from the watermark the request names: at most ``page``, MoreEvents
    while more wait (as Exchange pages them); each answer is added to ``reads``."""
    sub = box.subscriptions.get(text_at(op, "m:SubscriptionId") or "")
    if sub is None:
        return [error("GetEvents", EwsFault("ErrorSubscriptionNotFound", "The subscription was not found."))]
    try:
        owner, _, seq = base64.b64decode(text_at(op, "m:Watermark") or "").decode().partition("|")
        start = int(seq)
    except ValueError:
        start, owner = -1, ""
    if owner != sub.id or not 0 <= start <= len(sub.events):
        return [error("GetEvents", EwsFault("ErrorInvalidWatermark", "The watermark is invalid."))]
    events = sub.events[start : start + max(1, page)]
    more = start + len(events) < len(sub.events)
    if reads is not None:
        reads.append(EventRead(sub.id, start, len(events), more))
    body = (
        "".join(events)
        or f"<t:StatusEvent><t:Watermark>{watermark(sub.id, start)}</t:Watermark></t:StatusEvent>"
    )
    return [
        f"<m:Notification><t:SubscriptionId>{sub.id}</t:SubscriptionId>"
        f"<t:PreviousWatermark>{watermark(sub.id, start)}</t:PreviousWatermark>"
        f"<t:MoreEvents>{str(more).lower()}</t:MoreEvents>{body}</m:Notification>"
    ]


OPERATIONS: dict[str, Callable[[MailboxState, ET.Element], list[str]]] = {
    "GetFolder": op_get_folder,
    "FindFolder": op_find_folder,
    "CreateFolder": op_create_folder,
    "FindItem": op_find_item,
    "GetItem": op_get_item,
    "MoveItem": op_move_item,
    "CreateItem": op_create_item,
    "ConvertId": op_convert_id,
    "Subscribe": op_subscribe,
    "Unsubscribe": op_unsubscribe,
    "GetEvents": op_get_events,
}
