"""Conversion bench: umfax beside Ghostscript with HylaFAX's arguments, in one run.

    nice -n 10 python bench/convert.py [--split tune] [--resolutions standard] [--json out.json]

Generates its own corpus (bench/convert_corpus.py and bench/text_corpus.py; needs the
``bench`` extra, ReportLab, and fonts-liberation): text pages of six classes (sans, serif,
small print, bold/italic, tables and forms, scanned-looking) in several typefaces with
ground truth and a held-out split, the original business pages, a photo PDF, plain text
and a grey 300 dpi scan.  For standard and fine resolution and for MH and MMR it prints
pages/s, bytes/page, tesseract character accuracy against the source text, line seconds
per page at 14,400 bit/s, and for the photo page the tone error; then inbound
TIFF-to-PDF time per page; then the legibility table: OCR per page class and split,
umfax beside Ghostscript, bytes against Ghostscript's, the worst page; and the targets'
verdict.  tesseract's answers are cached by page image and layout mode (``--cache``,
default ~/.cache/umfax-bench): Ghostscript's pages do not change between runs.
``--workers`` bounds the tesseract processes at once (1 on a machine others share),
``--classes`` runs only some page classes, ``--class-pages`` and ``--business-held`` set
the corpus' size (the forms and business classes have more pages than the others by
default: read with --psm 6 their scores swing with tesseract's choice of lines).  A class
the verdict finds behind Ghostscript's says by how many standard errors.

tesseract reads every page twice, in two page-layout modes (``--psm``): 3, its default
automatic layout analysis (columns, blocks, a form's separate fields), and 6, the page
as one uniform block of text.  Neither is "the" reader: 6 models a person reading line
by line and suits body text, but runs the boxes and labels of a form together; 3 finds
a form's fields but may skip or reorder lines it takes for separate blocks.  The tables
and the verdict give both, and the legibility target must hold under each.

Ghostscript runs as HylaFAX runs it (pdf2fax.gs): ``gs -dSAFER -sPAPERSIZE=a4
-dFIXEDMEDIA -dMaxStripSize=0 -r209.10x196 -sDEVICE=tiffg4`` (tiffg3 for MH, x98 for
standard).  umfax converts to A4 as well.  Times: wall clock and CPU seconds of the
converting process (Ghostscript: its child CPU time), since other work may share the
machine.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# This folder holds other benches (e.g. queue.py) whose names shadow the standard library:
# take it off the import path before importing anything else.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse
import concurrent.futures
import difflib
import hashlib
import io
import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from bench import convert_corpus as corpus
from bench.text_corpus import CLASSES
from umfax.conversion import (
    ConversionOptions,
    FaxPage,
    convert_documents,
    page_bitmap,
    pages_to_pdf,
    pages_to_tiff,
    t4_strip,
    tiff_to_pages,
)
from umfax.conversion.render_pdf import PdfSource

LINE_BPS = 14_400
GS_RES = {"standard": "209.10x98", "fine": "209.10x196"}
GS_DEV = {"mh": "tiffg3", "mmr": "tiffg4"}
PSM_MODES = ("3", "6")
"""tesseract page-layout modes every page is read in: automatic layout, one uniform block."""
FORMS_PAGES = 16
"""Pages of the forms class (the others have ``--pages-per-class``): read with --psm 6 a
form page's score moves by 0.05-0.2 with tesseract's choice of lines, so four pages left
a standard error of 0.018, ten times the differences the verdict decides on."""
BUSINESS_HELD = 12
"""Business pages held out (other seeds than the four tuned on): their ruled tables,
read with --psm 6, move a page's score by 0.01-0.05 the same way."""


@dataclass
class Result:
    engine: str
    kind: str
    resolution: str
    encoding: str
    pages: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    bytes: int = 0
    ocr: dict[str, list[float]] = field(default_factory=dict)
    """Character accuracy of each page, by tesseract page-layout mode (``--psm``)."""
    tone_error: float | None = None
    cls: str = ""
    split: str = ""
    name: str = ""
    page_bytes: list[int] = field(default_factory=list)

    @property
    def bytes_per_page(self) -> float:
        return self.bytes / max(self.pages, 1)

    @property
    def line_seconds(self) -> float:
        return self.bytes_per_page * 8 / LINE_BPS

    @property
    def pages_per_s_cpu(self) -> float:
        return self.pages / self.cpu if self.cpu else float("nan")

    @property
    def ms_per_page(self) -> float:
        return 1000 * self.wall / max(self.pages, 1)


def black_of(page: FaxPage) -> np.ndarray:  # type: ignore[type-arg]
    return np.unpackbits(page_bitmap(page), axis=1)[:, :page.width].astype(bool)


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def char_accuracy(source: str, ocr: str) -> float:
    src, got = _norm(source), _norm(ocr)
    if not src:
        return float("nan")
    matcher = difflib.SequenceMatcher(None, src, got, autojunk=False)
    return sum(b.size for b in matcher.get_matching_blocks()) / len(src)


OCR_CACHE: Path | None = None
"""Folder of tesseract's answers by the SHA-256 of the page image (None: no cache)."""


def ocr_page(black: np.ndarray, y_res: float, psm: str) -> str:  # type: ignore[type-arg]
    """tesseract on the page as a fax machine prints it (rows doubled at standard), in
    page-layout mode ``psm``."""
    img = Image.fromarray(np.where(black, 0, 255).astype(np.uint8))
    if y_res < 150:
        img = img.resize((img.width, img.height * 2), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, "PNG", dpi=(204, 196))
    cached = None
    if OCR_CACHE is not None:
        # psm 6 answers keep the name they had before other modes were read
        suffix = "" if psm == "6" else f".psm{psm}"
        cached = OCR_CACHE / (hashlib.sha256(buf.getvalue()).hexdigest() + suffix + ".txt")
        if cached.exists():
            return cached.read_text()
    out = subprocess.run(["tesseract", "stdin", "stdout", "--psm", psm], input=buf.getvalue(),
                         capture_output=True, check=True,
                         env={**os.environ, "OMP_THREAD_LIMIT": "1"})
    text = out.stdout.decode("utf-8", "replace")
    if cached is not None:
        cached.write_text(text)
    return text


def run_umfax(doc: corpus.Doc, resolution: str, encoding: str) -> tuple[Result, list[FaxPage]]:
    options = ConversionOptions(resolution=resolution, encoding=encoding,  # type: ignore[arg-type]
                                paper="a4")
    t0, c0 = time.perf_counter(), time.process_time()
    pages = convert_documents([(doc.name, doc.content)], options)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    sizes = [len(t4_strip(p)) for p in pages]
    res = Result("umfax", doc.kind, resolution, encoding, len(pages), wall, cpu, sum(sizes),
                 cls=doc.cls, split=doc.split, name=doc.name, page_bytes=sizes)
    return res, pages


def run_gs(doc: corpus.Doc, resolution: str, encoding: str,
           tmp: Path) -> tuple[Result, list[FaxPage]]:
    src = tmp / doc.name
    src.write_bytes(doc.content)
    out = tmp / f"gs-{resolution}-{encoding}.tif"
    cmd = ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sPAPERSIZE=a4", "-dFIXEDMEDIA",
           "-dMaxStripSize=0", f"-r{GS_RES[resolution]}", f"-sDEVICE={GS_DEV[encoding]}",
           f"-sOutputFile={out}", str(src)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    pages = tiff_to_pages(out.read_bytes())
    sizes = [len(t4_strip(p)) for p in pages]
    res = Result("gs", doc.kind, resolution, encoding, len(pages), wall, cpu, sum(sizes),
                 cls=doc.cls, split=doc.split, name=doc.name, page_bytes=sizes)
    return res, pages


def _down(a: np.ndarray, kr: int, kc: int) -> np.ndarray:  # type: ignore[type-arg]
    rows, cols = a.shape[0] // kr * kr, a.shape[1] // kc * kc
    return a[:rows, :cols].reshape(rows // kr, kr, cols // kc, kc).mean(axis=(1, 3))


def tone_error(pages: list[FaxPage], reference: np.ndarray) -> float:  # type: ignore[type-arg]
    """Mean absolute difference (0..1) between the page's local darkness and the grey
    original's, in blocks of about 1.5 mm square (12 columns by 12 rows at fine, 6 at
    standard: what the eye averages at reading distance), over the photo."""
    black = black_of(pages[0]).astype(np.float64)
    ref = 1.0 - reference.astype(np.float64) / 255.0
    rows = min(black.shape[0], ref.shape[0])
    kr = 12 if pages[0].y_res > 150 else 6
    a, b = _down(black[:rows], kr, 12), _down(ref[:rows, :black.shape[1]], kr, 12)
    photo = b > 0.02  # ignore the white margins
    return float(np.abs(a - b)[photo].mean())


def photo_references(doc: corpus.Doc, resolution: str) -> dict[str, np.ndarray]:  # type: ignore[type-arg]
    """The photo page in grey as each engine lays it out (umfax: centred on 1728;
    Ghostscript: A4 at 209.1 dpi from the top-left)."""
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as pc

    umfax_gray = next(iter(PdfSource(doc.name, doc.content).pages("a4", "fine"))).gray
    if resolution == "standard":
        umfax_gray = ((umfax_gray[0::2].astype(np.uint16)[: umfax_gray.shape[0] // 2] +
                       umfax_gray[1::2][: umfax_gray.shape[0] // 2]) // 2).astype(np.uint8)
    ylpi = 98.0 if resolution == "standard" else 196.0
    pdf = pdfium.PdfDocument(doc.content)
    page = pdf[0]
    w, h = page.get_size()
    cols, rows = round(w / 72 * 209.1), round(h / 72 * ylpi)
    gray = np.full((rows, cols), 255, np.uint8)
    bitmap = pc.FPDFBitmap_CreateEx(cols, rows, pc.FPDFBitmap_Gray,
                                    gray.ctypes.data_as(ctypes.c_void_p), cols)
    matrix = pc.FS_MATRIX(209.1 / 72, 0, 0, ylpi / 72, 0, 0)
    clip = pc.FS_RECTF(0, 0, cols, rows)
    pc.FPDF_RenderPageBitmapWithMatrix(bitmap, page.raw, ctypes.byref(matrix),
                                       ctypes.byref(clip), pc.FPDF_GRAYSCALE)
    pc.FPDFBitmap_Destroy(bitmap)
    page.close()
    pdf.close()
    return {"umfax": umfax_gray, "gs": gray[:, :1728]}


def inbound_ms_per_page(pages: list[FaxPage], repeat: int = 20) -> float:
    data = pages_to_tiff(pages)
    t0 = time.perf_counter()
    for _ in range(repeat):
        pages_to_pdf(tiff_to_pages(data))
    return 1000 * (time.perf_counter() - t0) / (repeat * len(pages))


def main() -> int:
    global OCR_CACHE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages-per-class", type=int, default=4,
                        help="pages of each class of the legibility corpus (half held out)")
    parser.add_argument("--class-pages", nargs="*", default=[f"forms={FORMS_PAGES}"],
                        metavar="CLASS=N",
                        help="another number of pages for some classes (default: forms="
                             f"{FORMS_PAGES}; none given: every class alike)")
    parser.add_argument("--business-pages", type=int, default=4,
                        help="business pages tuned on")
    parser.add_argument("--business-held", type=int, default=BUSINESS_HELD,
                        help="business pages held out (other seeds)")
    parser.add_argument("--classes", nargs="+", choices=(*CLASSES, "business"),
                        help="only these page classes of the legibility corpus "
                             "(the photo, plain text and scan still run)")
    parser.add_argument("--split", choices=("tune", "held", "all"), default="all",
                        help="run only the tuning pages, only the held-out ones, or all")
    parser.add_argument("--resolutions", nargs="+", default=["standard", "fine"])
    parser.add_argument("--encodings", nargs="+", default=["mh", "mmr"])
    parser.add_argument("--no-ocr", action="store_true")
    parser.add_argument("--psm", nargs="+", default=list(PSM_MODES), choices=PSM_MODES,
                        help="tesseract page-layout modes to read in (the verdict needs both)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "umfax-bench",
                        help="folder for cached tesseract answers ('' for none)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                        help="tesseract processes at once (1 on a machine others share)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not shutil.which("gs"):
        print("ghostscript (gs) is required for the comparison", file=sys.stderr)
        return 2
    if str(args.cache) not in ("", "."):
        OCR_CACHE = args.cache / "ocr"
        OCR_CACHE.mkdir(parents=True, exist_ok=True)
    ocr = not args.no_ocr and shutil.which("tesseract") is not None
    class_pages = {c: int(n) for c, n in (item.split("=", 1) for item in args.class_pages)}
    docs = [d for d in corpus.corpus(args.business_pages, args.pages_per_class, class_pages,
                                     args.business_held)
            if (args.split == "all" or d.split == args.split or d.kind != "text")
            and (not args.classes or not d.cls or d.cls in args.classes)]
    results: list[Result] = []
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(args.workers, 1))
    with tempfile.TemporaryDirectory(prefix="umfax-bench-") as tmpdir:
        tmp = Path(tmpdir)
        # warm up (imports, fonts, libtiff) outside the timings
        convert_documents([("w.txt", b"warm up")], ConversionOptions())
        for resolution in args.resolutions:
            for encoding in args.encodings:
                # OCR on one coding per resolution: MH and MMR code the same pixels
                read = ocr and encoding == ("mmr" if "mmr" in args.encodings else args.encodings[0])
                for doc in docs:
                    engines = [run_umfax(doc, resolution, encoding)]
                    if doc.name.endswith(".pdf"):
                        engines.append(run_gs(doc, resolution, encoding, tmp))
                    for res, pages in engines:
                        if read and doc.kind != "photo":
                            jobs = {psm: [pool.submit(ocr_page, black_of(p), p.y_res, psm)
                                          for p in pages] for psm in args.psm}
                            res.ocr = {psm: [char_accuracy(text, job.result())
                                             for text, job in zip(doc.text, psm_jobs,
                                                                  strict=False)]
                                       for psm, psm_jobs in jobs.items()}
                        if doc.kind == "photo":
                            refs = photo_references(doc, resolution)
                            res.tone_error = tone_error(pages, refs[res.engine])
                        results.append(res)
        fine_text = [p for d in docs if d.kind == "text"
                     for p in run_umfax(d, "fine", "mmr")[1]]
        inbound = inbound_ms_per_page(fine_text)
    pool.shutdown()
    report(results, inbound, args.psm)
    print()
    for line in legibility(results, args.psm):
        print(line)
    if args.json:
        args.json.write_text(json.dumps({"results": [r.__dict__ for r in results],
                                         "inbound_ms_per_page": inbound}, indent=1))
    return 0


def _group(results: list[Result], engine: str, kind: str, resolution: str,
           encoding: str) -> Result | None:
    rows = [r for r in results if (r.engine, r.kind, r.resolution, r.encoding) ==
            (engine, kind, resolution, encoding)]
    if not rows:
        return None
    total = Result(engine, kind, resolution, encoding)
    for r in rows:
        total.pages += r.pages
        total.wall += r.wall
        total.cpu += r.cpu
        total.bytes += r.bytes
        for psm, accuracy in r.ocr.items():
            total.ocr.setdefault(psm, []).extend(accuracy)
        if r.tone_error is not None:
            total.tone_error = r.tone_error
    return total


def report(results: list[Result], inbound: float, modes: list[str]) -> None:
    ocr_heads = " ".join(f"{'OCR psm' + m:>8}" for m in modes)
    print(f"{'kind':9} {'res':8} {'code':4} {'engine':6} {'pages':>5} {'pages/s':>8} "
          f"{'cpu p/s':>8} {'ms/page':>8} {'bytes/page':>10} {'ratio':>6} {'line s':>7} "
          f"{'conv/line':>9} {ocr_heads} {'tone err':>8}")
    for kind in ("text", "photo", "plaintext", "scan"):
        for resolution in ("standard", "fine"):
            for encoding in ("mh", "mmr"):
                gs = _group(results, "gs", kind, resolution, encoding)
                for engine in ("umfax", "gs"):
                    r = _group(results, engine, kind, resolution, encoding)
                    if r is None:
                        continue
                    ratio = (f"{r.bytes_per_page / gs.bytes_per_page:6.3f}" if gs and
                             engine == "umfax" else "      ")
                    acc = " ".join(f"{np.mean(r.ocr[m]):8.4f}" if r.ocr.get(m) else " " * 8
                                   for m in modes)
                    tone = f"{r.tone_error:8.4f}" if r.tone_error is not None else " " * 8
                    conv = r.wall / max(r.pages, 1) / r.line_seconds * 100
                    print(f"{kind:9} {resolution:8} {encoding:4} {engine:6} {r.pages:5d} "
                          f"{r.pages / r.wall:8.1f} {r.pages_per_s_cpu:8.1f} "
                          f"{r.ms_per_page:8.1f} {r.bytes_per_page:10.0f} {ratio} "
                          f"{r.line_seconds:7.2f} {conv:8.2f}% {acc} {tone}")
    print(f"inbound fax TIFF -> PDF (in process, fine MMR text pages): {inbound:.3f} ms/page")
    print()
    for line in targets(results, inbound):
        print(line)


def targets(results: list[Result], inbound: float) -> list[str]:
    """The issue's targets, each with the figure that decides it."""
    lines: list[str] = []

    def check(what: str, ok: bool, figure: str) -> None:
        lines.append(f"target {what}: {'met' if ok else 'NOT MET'} ({figure})")

    for resolution in ("standard", "fine"):
        for encoding in ("mh", "mmr"):
            u = _group(results, "umfax", "text", resolution, encoding)
            if u and u.cpu:
                share = u.wall / max(u.pages, 1) / u.line_seconds
                check(f"text {resolution} {encoding} conversion <= 1 % of line time",
                      share <= 0.01, f"{share:.2%}")
                check(f"text {resolution} {encoding} >= 30 pages/s on one core",
                      u.pages_per_s_cpu >= 30, f"{u.pages_per_s_cpu:.1f} pages per CPU second")
        for encoding in ("mh", "mmr"):
            u = _group(results, "umfax", "photo", resolution, encoding)
            g = _group(results, "gs", "photo", resolution, encoding)
            if u and g:
                tone_ok = (u.tone_error is None or g.tone_error is None
                           or u.tone_error <= g.tone_error)
                check(f"photo {resolution} {encoding} bytes <= Ghostscript's, tone no worse",
                      u.bytes_per_page <= g.bytes_per_page and tone_ok,
                      f"{u.bytes_per_page / g.bytes_per_page:.3f}x, tone error "
                      f"{u.tone_error or 0:.4f} against {g.tone_error or 0:.4f}")
    check("inbound fax TIFF to PDF <= 10 ms/page", inbound <= 10, f"{inbound:.3f} ms/page")
    return lines


@dataclass
class PageScore:
    name: str
    cls: str
    split: str
    umfax: float
    gs: float


def _scores(results: list[Result], resolution: str, psm: str) -> list[PageScore]:
    """OCR (in layout mode ``psm``) of every text page that both engines converted and
    tesseract read."""
    gs_ocr = {(r.name, r.encoding): r.ocr[psm] for r in results
              if r.engine == "gs" and r.resolution == resolution and r.cls and r.ocr.get(psm)}
    scores = []
    for r in results:
        if r.engine != "umfax" or r.resolution != resolution or not r.cls or not r.ocr.get(psm):
            continue
        theirs = gs_ocr.get((r.name, r.encoding))
        if theirs is None:
            continue
        ocr = r.ocr[psm]
        for i, (ours, gs) in enumerate(zip(ocr, theirs, strict=False)):
            name = r.name if len(ocr) == 1 else f"{r.name}#{i + 1}"
            scores.append(PageScore(name, r.cls, r.split, ours, gs))
    return scores


def _bytes_ratio(results: list[Result], resolution: str, encoding: str,
                 keep: Callable[[Result], bool]) -> float | None:
    ours = sum(r.bytes for r in results if r.engine == "umfax" and r.resolution == resolution
               and r.encoding == encoding and r.cls and keep(r))
    theirs = sum(r.bytes for r in results if r.engine == "gs" and r.resolution == resolution
                 and r.encoding == encoding and r.cls and keep(r))
    return ours / theirs if theirs else None


def _diff_se(group: list[PageScore]) -> float:
    """Standard error of the mean page-by-page difference (umfax - Ghostscript): how far a
    class's difference could move with other pages of the same kind (NaN for one page)."""
    diffs = [p.umfax - p.gs for p in group]
    if len(diffs) < 2:
        return float("nan")
    return float(np.std(diffs, ddof=1)) / len(diffs) ** 0.5


def legibility(results: list[Result], modes: list[str]) -> list[str]:
    """The legibility tables (OCR per page class and split, umfax beside Ghostscript, the
    standard error of their page-by-page difference, bytes against Ghostscript's), one per
    tesseract layout mode, and the targets' verdict: OCR >= Ghostscript's on every class at
    standard and fine under every mode, bytes <= 0.9x Ghostscript's.  The verdict compares
    the means as they are; the standard error only says how much a class's difference is
    worth (a class behind says by how many standard errors)."""
    lines: list[str] = []
    verdicts: list[str] = []
    ok_all = True
    read_well: dict[str, bool] = {}
    """Resolution -> OCR >= Ghostscript's on every class under every mode read."""
    for psm in modes:
        lines += [f"legibility, tesseract --psm {psm}: character accuracy (mean of pages), "
                  "umfax beside Ghostscript (HylaFAX's arguments); bytes/page as a multiple "
                  "of Ghostscript's",
                  f"{'res':8} {'class':10} {'pages':>5} {'umfax':>7} {'gs':>7} {'diff':>7} "
                  f"{'+-se':>6} {'MH xgs':>7} {'MMR xgs':>7}"]
        for resolution in ("standard", "fine"):
            scores = _scores(results, resolution, psm)
            if not scores:
                continue
            classes = [c for c in (*CLASSES, "business") if any(p.cls == c for p in scores)]
            groups: list[tuple[str, Callable[[Result], bool], list[PageScore]]] = [
                (c, lambda r, c=c: r.cls == c, [p for p in scores if p.cls == c])
                for c in classes]
            groups += [(f"[{sp}]", lambda r, sp=sp: r.split == sp,
                        [p for p in scores if p.split == sp]) for sp in ("tune", "held")]
            groups.append(("[all]", lambda r: True, scores))
            for label, keep, group in groups:
                if not group:
                    continue
                ours, theirs = (float(np.mean([p.umfax for p in group])),
                                float(np.mean([p.gs for p in group])))
                # standard error of the mean page-by-page difference: how far the class's
                # difference could move with other pages of the same kind
                se = _diff_se(group)
                ratios = [_bytes_ratio(results, resolution, e, keep) for e in ("mh", "mmr")]
                cells = " ".join(f"{x:7.3f}" if x is not None else " " * 7 for x in ratios)
                lines.append(f"{resolution:8} {label:10} {len(group):5d} {ours:7.4f} "
                             f"{theirs:7.4f} {ours - theirs:+7.4f} {se:6.4f} {cells}")
            worst = min(scores, key=lambda p: p.umfax)
            worst_gap = min(scores, key=lambda p: p.umfax - p.gs)
            lines.append(f"{resolution:8} worst page: {worst.name} ({worst.cls}, {worst.split}) "
                         f"{worst.umfax:.4f}, gs {worst.gs:.4f}; furthest below gs: "
                         f"{worst_gap.name} {worst_gap.umfax:.4f} against {worst_gap.gs:.4f}")
            behind = []
            for c in classes:
                group = [p for p in scores if p.cls == c]
                ours, theirs = np.mean([p.umfax for p in group]), np.mean([p.gs for p in group])
                if ours < theirs:
                    se = _diff_se(group)
                    # how many standard errors behind: within two, other pages of the same
                    # kind could as well put umfax ahead
                    weight = (f", {(theirs - ours) / se:.1f} se" if se == se and se > 0
                              else "")
                    behind.append(f"{c} {ours:.4f} < {theirs:.4f}{weight}")
            ok = not behind
            ok_all &= ok
            read_well[resolution] = read_well.get(resolution, True) and ok
            verdicts.append(f"verdict {resolution} psm {psm}: OCR >= Ghostscript's on every "
                            f"class: {'met' if ok else 'NOT MET (' + '; '.join(behind) + ')'}")
        lines.append("")
    missing = [m for m in PSM_MODES if m not in modes]
    if missing:
        ok_all = False
        verdicts.append(f"verdict: OCR not read with --psm {' '.join(missing)}: "
                        "legibility undecided")
    for resolution in ("standard", "fine"):
        for encoding in ("mh", "mmr"):
            ratio = _bytes_ratio(results, resolution, encoding, lambda r: True)
            if ratio is None:
                continue
            bytes_ok = ratio <= 0.9
            ok_all &= bytes_ok
            cost = "" if bytes_ok or not read_well.get(resolution) else (
                f"; legibility first: it costs {ratio / 0.9 - 1:.1%} over the 0.9x target")
            vector = _bytes_ratio(results, resolution, encoding, lambda r: r.cls != "scanned")
            verdicts.append(f"verdict {resolution} {encoding}: bytes <= 0.9x Ghostscript's: "
                            f"{'met' if bytes_ok else 'NOT MET'} ({ratio:.3f}x; "
                            f"{vector or 0:.3f}x without the scanned pages){cost}")
    verdicts.append(f"verdict: {'all targets met' if ok_all else 'targets NOT all met'}")
    return [*lines, *verdicts]


if __name__ == "__main__":
    raise SystemExit(main())
