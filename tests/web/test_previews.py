"""The preview store: only the owner reads a preview; previews expire and are bounded."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from umfax.web.previews import PER_USER, Draft, PreviewGone, PreviewPage, PreviewStore


def _draft(owner: int, created: float | None = None) -> Draft:
    return Draft(
        owner=owner,
        created=created or time.time(),
        form={"numbers": "1"},
        pages=[PreviewPage(1728, 10, 1728, 20)],
    )


def test_owner_only_expiry_and_bounds(tmp_path: Path) -> None:
    store = PreviewStore(tmp_path / "previews", lifetime=60, max_bytes=10_000)
    token = store.save(_draft(1), [b"doc"], [b"png"])
    assert store.get(1, token).form == {"numbers": "1"} and store.page(1, token, 0) == b"png"
    for owner, wanted in ((2, token), (1, "../../etc"), (1, "x" * 30)):
        with pytest.raises(PreviewGone):
            store.get(owner, wanted)
    with pytest.raises(PreviewGone):
        store.page(1, token, 1)
    old = store.save(_draft(3, created=time.time() - 61), [b"doc"], [b"png"])
    with pytest.raises(PreviewGone, match="expired"):
        store.get(3, old)
    tokens = [store.save(_draft(1), [b"d"], [b"p"]) for _ in range(PER_USER + 1)]
    kept = {p.name for p in (tmp_path / "previews").iterdir()}
    assert kept == set(tokens[1:])  # the oldest of user 1 (and the expired one) are gone
    store.save(_draft(4), [b"x" * 9_990], [b"p" * 9])
    assert {p.name for p in (tmp_path / "previews").iterdir()} & set(tokens) == set()  # over max_bytes
