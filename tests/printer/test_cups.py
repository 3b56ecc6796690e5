"""The fax printer as CUPS uses it: a private cupsd, a queue made with cups-filters'
``driverless-fax`` PPD on umfax's FaxOut URI, and ``lp -o phone=NUMBER``: CUPS's ipp
backend sends the number as destination-uris, and the job becomes a fax of the user."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.printer.conftest import PASSWORD, PrinterSite
from tests.printer.cupsd import PrivateCups

pytestmark = [
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in ("cupsd", "lpadmin", "lp", "driverless-fax")),
        reason="cups, cups-client and cups-filters are needed",
    ),
    pytest.mark.skipif(os.geteuid() != 0, reason="a private cupsd runs its filters as 'lp': started as root"),
]


@pytest.fixture
def cups() -> Iterator[PrivateCups]:
    scheduler = PrivateCups()
    try:
        scheduler.start()
        yield scheduler
    finally:
        scheduler.stop()


def test_lp_with_a_phone_number_becomes_a_fax(
    printer_site: PrinterSite, cups: PrivateCups, tmp_path: Path
) -> None:
    from reportlab.pdfgen import canvas

    uri = f"ipp://127.0.0.1:{printer_site.port}/ipp/faxout"
    ppd = tmp_path / "fax.ppd"
    made = subprocess.run(["driverless-fax", uri], capture_output=True, text=True, timeout=60, check=True)
    assert "*cupsIPPFaxOut: True" in made.stdout  # CUPS maps -o phone= to destination-uris
    ppd.write_text(made.stdout)
    cups.run("lpadmin", "-p", "Fax", "-E", "-v", f"ipp://ann:{PASSWORD}@127.0.0.1:{printer_site.port}/ipp/faxout",
             "-P", str(ppd))  # fmt: skip
    document = tmp_path / "letter.pdf"
    page = canvas.Canvas(str(document))
    page.drawString(72, 700, "Printed to fax through CUPS")
    page.save()
    # (lp splits -o values at spaces: a number with spaces reaches the backend cut short)
    cups.run("lp", "-d", "Fax", "-t", "Letter", "-o", "phone=+12125550100", str(document))
    deadline = time.monotonic() + 60
    while not (jobs := printer_site.store.list_jobs(limit=5)):
        assert time.monotonic() < deadline, cups.log()[-3000:]
        time.sleep(0.1)
    (job,) = jobs
    assert job.number == "+12125550100"
    assert job.source == "ipp"
    assert job.user_id == printer_site.store.find_user(email="ann@example.com").id  # type: ignore[union-attr]
    (stored,) = printer_site.store.documents(job.id)
    # CUPS sends what the PPD says costs least: Apple raster, which umfax's conversion reads.
    assert stored.content_type in ("image/urf", "application/pdf", "image/pwg-raster")
    assert len(stored.data) > 1000
    # ... and the document CUPS sent converts to the fax page with the printed line on it.
    from umfax.conversion import ConversionOptions, convert_documents
    from umfax.conversion.pages import page_bitmap

    (fax_page,) = convert_documents(
        [(stored.filename or "printed", stored.data)], ConversionOptions(resolution="fine")  # type: ignore[arg-type]
    )
    import numpy as np

    black = int(np.unpackbits(page_bitmap(fax_page)).sum())  # the printed line's ink: not blank, not black
    assert 500 < black < fax_page.width * fax_page.length // 50
