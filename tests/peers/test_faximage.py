"""Fast checks of the peer helpers that need no modem (image I/O, comparison, naming)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.peers.faximage import (
    FAX_WIDTH,
    compare_pages,
    load_fax_image,
    make_test_page,
    received_pages,
    write_fax_tiff,
)
from tests.peers.hylafax import hylafax_devid
from tests.peers.iaxmodem import _config_name


def _page(rows: int = 200) -> np.ndarray:
    rng = np.random.default_rng(7)
    ink = np.zeros((rows, FAX_WIDTH), dtype=bool)
    ink[40:160, 100:1600] = rng.random((120, 1500)) < 0.2
    return ink


def test_compare_allows_leading_and_trailing_white_rows_only() -> None:
    sent = _page()
    received = np.vstack([np.zeros((20, FAX_WIDTH), bool), sent[:-1]])  # efax: +20 top, -1
    cmp = compare_pages(sent, received)
    assert cmp.identical and cmp.leading_rows == 20, str(cmp)

    flipped = received.copy()
    flipped[100, 700] ^= True
    assert compare_pages(sent, flipped).diff_pixels == 1

    lost_ink = received[:150]  # cuts into the content: the missing ink counts
    assert compare_pages(sent, lost_ink).diff_pixels == int(sent[130:].sum())

    with pytest.raises(AssertionError, match="rows from the sent one"):
        compare_pages(sent, np.vstack([np.zeros((100, FAX_WIDTH), bool), sent]))
    with pytest.raises(AssertionError, match="width changed"):
        compare_pages(sent, sent[:, :1000])


@pytest.mark.skipif(shutil.which("gs") is None, reason="ghostscript not installed")
def test_test_page_is_a4_fine_g3(tmp_path: Path) -> None:
    ink = load_fax_image(make_test_page(tmp_path / "p.tif"))
    assert ink.shape == (2292, FAX_WIDTH)
    assert 10_000 < int(ink.sum()) < ink.size // 4


def test_pillow_tiff_round_trips_and_efax_reads_it_the_same(tmp_path: Path) -> None:
    ink = _page()
    path = write_fax_tiff(ink, tmp_path / "p.tif")
    assert np.array_equal(load_fax_image(path), ink)
    if shutil.which("efix") is None:
        pytest.skip("efix not installed")
    # efix is efax's own reader: it must see the same (not inverted) pixels in one strip
    subprocess.run(["efix", "-o", "pbm", "-n", str(tmp_path / "e.pbm"), str(path)], check=True,
                   capture_output=True, timeout=30)  # fmt: skip
    assert np.array_equal(load_fax_image(tmp_path / "e.pbm"), ink)


def test_received_pages_sorted_numerically(tmp_path: Path) -> None:
    for name in ["fax.010", "fax.002", "fax.001", "fax.log", "fax.tif", "other.003"]:
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in received_pages(tmp_path / "fax")] == ["fax.001", "fax.002", "fax.010"]


def test_names_derived_for_third_party_tools() -> None:
    assert hylafax_devid("/tmp/umfp-x/ttyB") == "_tmp_umfp-x_ttyB"
    assert hylafax_devid("/dev/ttyIAX0") == "ttyIAX0"
    if Path("/etc/iaxmodem").is_dir():  # iaxmodem resolves NAME relative to it
        assert _config_name(Path("/tmp/umfp-x/iaxA")) == "../../tmp/umfp-x/iaxA"
