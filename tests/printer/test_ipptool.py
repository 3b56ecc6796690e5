"""The fax printer with a real IPP client: CUPS's ipptool (cups-ipp-utils) against a
umfax API server, with our .test files and Debian's own where they apply."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.printer.conftest import PrinterSite
from umfax.lifecycle import JobState
from umfax.store.models import Job

HERE = Path(__file__).parent
DEBIAN_TESTS = Path("/usr/share/cups/ipptool")

pytestmark = pytest.mark.skipif(shutil.which("ipptool") is None, reason="ipptool (cups-ipp-utils) is missing")

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def ipptool(
    uri: str, *tests: str | Path, variables: dict[str, str] | None = None, document: Path | None = None
) -> str:
    command = ["ipptool", "-t", "-T", "20"]
    for name, value in (variables or {}).items():
        command += ["-d", f"{name}={value}"]
    if document is not None:
        command += ["-f", str(document)]
    command += [uri, *(str(t) for t in tests)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, f"ipptool failed:\n{run.stdout}\n{run.stderr}"
    return run.stdout


def test_get_printer_attributes(printer_site: PrinterSite) -> None:
    ipptool(printer_site.uri(None), HERE / "faxout-get-printer-attributes.test")


def test_print_job_becomes_a_fax_and_is_followed(printer_site: PrinterSite, tmp_path: Path) -> None:
    document = tmp_path / "letter.pdf"
    document.write_bytes(PDF)
    ipptool(printer_site.uri(), HERE / "faxout-print-job.test", document=document)
    jobs = printer_site.store.list_jobs(limit=10)
    assert len(jobs) == 1
    job = jobs[0]
    assert job.number == "+15551234567"
    assert job.source == "ipp"
    assert job.user_id == printer_site.store.find_user(email="ann@example.com").id  # type: ignore[union-attr]
    assert job.subject == "Quarterly report"
    (stored,) = printer_site.store.documents(job.id)
    assert stored.data == PDF and stored.content_type == "application/pdf"
    with printer_site.store.writing() as session:
        row = session.get(Job, job.id)
        assert row is not None
        row.state, row.pages_done, row.page_count = JobState.SENDING.value, 1, 2
    ipptool(printer_site.uri(), HERE / "faxout-job-state.test",
            variables={"job-id": str(job.id), "state": "5", "pages": "1"})  # fmt: skip
    with printer_site.store.writing() as session:
        row = session.get(Job, job.id)
        assert row is not None
        row.state, row.status = JobState.FAILED.value, "no answer after 3 tries"
    out = ipptool(printer_site.uri(), HERE / "faxout-job-state.test",
                  variables={"job-id": str(job.id), "state": "8", "pages": "1"})  # fmt: skip
    assert "PASS" in out


def test_a_blocked_number_is_refused_at_validate_job(printer_site: PrinterSite) -> None:
    ipptool(printer_site.uri(), HERE / "faxout-refused.test")
    assert printer_site.store.list_jobs(limit=10) == []


def test_api_key_as_password_and_create_job(printer_site: PrinterSite, tmp_path: Path) -> None:
    document = tmp_path / "letter.pdf"
    document.write_bytes(PDF)
    uri = printer_site.uri("anyone", printer_site.keys["bob"])
    ipptool(uri, DEBIAN_TESTS / "fax-job.test", variables={"user": "bob", "filetype": "application/pdf"},
            document=document)  # fmt: skip
    jobs = printer_site.store.list_jobs(limit=10)
    assert [j.number for j in jobs] == ["+14055551212"]
    assert jobs[0].user_id == printer_site.store.find_user(email="bob@example.com").id  # type: ignore[union-attr]


#: Debian's ipp-2.0.test (RFC 8011 conformance, through ipp-1.1.test, and PWG 5100.12's
#: printer description): the checks that apply to a FaxOut printer.
DEBIAN_CHECKS_THAT_APPLY = {
    "RFC 8011 section 4.1.1: Bad request-id value 0",
    "RFC 8011 section 4.1.4: No Operation Attributes",
    "RFC 8011 section 4.1.4: attributes-charset",
    "RFC 8011 section 4.1.4: attributes-natural-language",
    "RFC 8011 section 4.1.8: Unsupported IPP version 0.0",
    "RFC 8011 section 4.2: No printer-uri operation attribute",
    "RFC 8011 section 4.2.5: Get-Printer-Attributes Operation (default)",
    "RFC 8011 section 4.2.6: Get-Jobs Operation (default)",
    "RFC 8011 section 4.2.6: Get-Jobs Operation (my-jobs)",
    "PWG 5100.12 section 6.2 - Required Printer Description Attributes",
}


def test_debian_ipp_2_0_conformance(printer_site: PrinterSite, tmp_path: Path) -> None:
    """Debian's ipp-2.0.test, run on with -I: the request checks, the printer description
    and the printer and job queries pass.  Its Print-Job, Validate-Job and Create-Job
    carry no fax number, which a FaxOut printer must refuse (client-error-bad-request,
    "no fax number"); every test that follows the job they would have made
    (Get-Job-Attributes, Cancel-Job, completed Get-Jobs) fails or is skipped with them.
    ipp-everywhere.test (PWG 5100.14) fails: it wants ipp-features-supported
    "ipp-everywhere", Cancel-My-Jobs, printer icons, supplies, geo-location and the
    like, which a fax printer does not have."""
    document = tmp_path / "letter.pdf"
    document.write_bytes(PDF)
    run = subprocess.run(
        [
            "ipptool",
            "-I",
            "-t",
            "-T",
            "20",
            "-f",
            str(document),
            printer_site.uri(),
            str(DEBIAN_TESTS / "ipp-2.0.test"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    results: dict[str, str] = {}
    for line in run.stdout.splitlines():
        for verdict in ("[PASS]", "[FAIL]", "[SKIP]"):
            if line.rstrip().endswith(verdict):
                results.setdefault(line.rstrip()[: -len(verdict)].strip(), verdict)
    passed = {name for name, verdict in results.items() if verdict == "[PASS]"}
    missing = [name for name in DEBIAN_CHECKS_THAT_APPLY if not any(p.startswith(name[:60]) for p in passed)]
    assert not missing, run.stdout
    failed = [name for name, verdict in results.items() if verdict == "[FAIL]"]
    job_tests = ("Print-Job", "Validate-Job", "Create-Job", "Cancel-Job", "Get-Job-Attributes", "which-jobs")
    assert all(any(word in name for word in job_tests) for name in failed), run.stdout
