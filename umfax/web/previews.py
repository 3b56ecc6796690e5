"""Fax previews waiting to be sent: a bounded, expiring store on disk under the data dir.

A preview is a directory ``<data_dir>/console-previews/<token>/`` holding ``draft.json``
(its owner, when it was made, the send form and what the pages look like), the uploaded
documents (``doc-<n>``) and one PNG per fax page (``page-<n>.png``).  It lives at most
:data:`PREVIEW_LIFETIME` seconds; each user keeps at most :data:`PER_USER` and the
server at most :data:`TOTAL` (the oldest go first), so abandoned previews never pile up.
Only the owner reads one: :meth:`PreviewStore.get` treats another user's token as unknown.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from umfax.errors import UmfaxError

logger = logging.getLogger(__name__)

PREVIEW_LIFETIME = 3600.0
PER_USER = 4
TOTAL = 200
TOTAL_BYTES = 2 * 1024 * 1024 * 1024
"""Most bytes (documents and page images) all previews together may hold."""
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class PreviewGone(UmfaxError):
    """No such preview for this user (never made, expired, sent, or someone else's)."""


@dataclass(frozen=True, slots=True)
class PreviewPage:
    """One fax page's PNG and the size to show it at (aspect corrected)."""

    width: int
    height: int
    show_width: int
    show_height: int


@dataclass(frozen=True, slots=True)
class PreviewDocument:
    filename: str
    content_type: str
    size: int


@dataclass
class Draft:
    """A converted fax waiting for "Send": everything needed to submit it again."""

    owner: int
    created: float
    form: dict[str, Any]  # the send form's fields (see umfax.web.sending.SendForm)
    documents: list[PreviewDocument] = field(default_factory=list)
    pages: list[PreviewPage] = field(default_factory=list)
    size: int = 0  # bytes on disk
    token: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str, token: str) -> Draft:
        raw = json.loads(text)
        return cls(
            owner=int(raw["owner"]),
            created=float(raw["created"]),
            form=dict(raw["form"]),
            documents=[PreviewDocument(**d) for d in raw["documents"]],
            pages=[PreviewPage(**p) for p in raw["pages"]],
            size=int(raw.get("size", 0)),
            token=token,
        )


class PreviewStore:
    def __init__(self, root: Path, lifetime: float = PREVIEW_LIFETIME, max_bytes: int = TOTAL_BYTES) -> None:
        self.root = root
        self.lifetime = lifetime
        self.max_bytes = max_bytes

    def save(self, draft: Draft, documents: list[bytes], pngs: list[bytes]) -> str:
        """Keep ``draft`` with its documents and page images; its new token."""
        token = secrets.token_urlsafe(24)
        folder = self.root / token
        folder.mkdir(parents=True, mode=0o700)
        for n, data in enumerate(documents):
            (folder / f"doc-{n}").write_bytes(data)
        for n, data in enumerate(pngs):
            (folder / f"page-{n}.png").write_bytes(data)
        draft.token = token
        draft.size = sum(len(d) for d in documents) + sum(len(p) for p in pngs)
        (folder / "draft.json").write_text(draft.to_json(), encoding="utf-8")
        self.prune(draft.owner)
        return token

    def get(self, owner: int, token: str) -> Draft:
        folder = self._folder(token)
        try:
            draft = Draft.from_json((folder / "draft.json").read_text(encoding="utf-8"), token)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PreviewGone("this preview is gone (expired or sent); make a new one") from exc
        if draft.owner != owner:
            raise PreviewGone("this preview is gone (expired or sent); make a new one")
        if time.time() - draft.created > self.lifetime:
            self.discard(token)
            raise PreviewGone("this preview expired; make a new one")
        return draft

    def document(self, draft: Draft, n: int) -> bytes:
        return (self._folder(draft.token) / f"doc-{n}").read_bytes()

    def page(self, owner: int, token: str, n: int) -> bytes:
        draft = self.get(owner, token)
        if not 0 <= n < len(draft.pages):
            raise PreviewGone(f"the preview has no page {n + 1}")
        return (self._folder(token) / f"page-{n}.png").read_bytes()

    def discard(self, token: str) -> None:
        shutil.rmtree(self._folder(token), ignore_errors=True)

    def prune(self, owner: int | None = None, keep: int = PER_USER) -> None:
        """Drop expired previews, ``owner``'s beyond the newest ``keep``, and everyone's
        beyond the newest :data:`TOTAL` or ``max_bytes``."""
        if not self.root.is_dir():
            return
        now = time.time()
        alive: list[tuple[float, int, Path, int]] = []
        for folder in self.root.iterdir():
            try:
                raw = json.loads((folder / "draft.json").read_text(encoding="utf-8"))
                created, folder_owner = float(raw["created"]), int(raw["owner"])
                size = int(raw.get("size", 0))
            except (OSError, ValueError, KeyError, TypeError):
                if now - _mtime(folder) > 60:  # half-written or broken; give a writer a minute
                    shutil.rmtree(folder, ignore_errors=True)
                continue
            if now - created > self.lifetime:
                shutil.rmtree(folder, ignore_errors=True)
            else:
                alive.append((created, folder_owner, folder, size))
        alive.sort(reverse=True)
        mine = [entry for entry in alive if entry[1] == owner]
        dropped = {entry[2] for entry in mine[keep:]} | {entry[2] for entry in alive[TOTAL:]}
        held = 0
        for _, _, folder, size in alive:
            held += size
            if held > self.max_bytes:
                dropped.add(folder)
        for folder in dropped:
            shutil.rmtree(folder, ignore_errors=True)

    def _folder(self, token: str) -> Path:
        if not _TOKEN.match(token):
            raise PreviewGone("this preview is gone (expired or sent); make a new one")
        return self.root / token


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
