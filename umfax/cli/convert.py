"""``umfax convert``: preview exactly what would be sent, or turn a received fax into PDF."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn

from umfax.cli.common import Exit, fail

if TYPE_CHECKING:
    from umfax.conversion import FaxPage


class ResolutionChoice(StrEnum):
    standard = "standard"
    fine = "fine"
    superfine = "superfine"


class EncodingChoice(StrEnum):
    mh = "mh"
    mr = "mr"
    mmr = "mmr"


class PaperChoice(StrEnum):
    a4 = "a4"
    letter = "letter"
    legal = "legal"


def _write(pages: list[FaxPage], output: Path) -> str:
    from umfax.conversion import ConversionError, pages_to_pdf, pages_to_tiff, preview_png

    suffix = output.suffix.lower()
    if suffix in (".tif", ".tiff"):
        output.write_bytes(pages_to_tiff(pages))
        return "tiff"
    if suffix == ".pdf":
        output.write_bytes(pages_to_pdf(pages))
        return "pdf"
    if suffix == ".png":
        output.write_bytes(preview_png(pages[0], max_width=1000))
        return "png"
    raise ConversionError(f"cannot write {output.name}: use an output ending in .tif, .pdf "
                          "or .png")


def convert_command(
    inputs: Annotated[list[Path], typer.Argument(help="Documents to convert, in order.",
                                                 exists=True, dir_okay=False, readable=True)],
    output: Annotated[Path, typer.Option("-o", "--output",
                                         help="OUT.tif (fax pages), OUT.pdf or OUT.png.")],
    resolution: Annotated[ResolutionChoice, typer.Option(help="Vertical resolution.")] =
    ResolutionChoice.fine,
    encoding: Annotated[EncodingChoice, typer.Option(help="Fax coding.")] = EncodingChoice.mmr,
    paper: Annotated[PaperChoice, typer.Option(help="Paper size.")] = PaperChoice.letter,
    cover: Annotated[bool, typer.Option("--cover/--no-cover", help="Add a cover page.")] =
    False,
    cover_template: Annotated[Path | None, typer.Option(
        help="Cover page template (JSON, see umfax/conversion/templates/README.md).")] = None,
    to: Annotated[str, typer.Option("--to", help="Cover: recipient name.")] = "",
    to_company: Annotated[str, typer.Option(help="Cover: recipient company.")] = "",
    to_fax: Annotated[str, typer.Option(help="Cover: recipient fax number.")] = "",
    to_voice: Annotated[str, typer.Option(help="Cover: recipient voice number.")] = "",
    sender: Annotated[str, typer.Option("--from", help="Cover/header: sender name.")] = "",
    from_company: Annotated[str, typer.Option(help="Cover: sender company.")] = "",
    from_fax: Annotated[str, typer.Option(help="Cover/header: sender fax number.")] = "",
    from_voice: Annotated[str, typer.Option(help="Cover: sender voice number.")] = "",
    subject: Annotated[str, typer.Option(help="Cover: subject.")] = "",
    comments: Annotated[str, typer.Option(help="Cover: comments.")] = "",
    header: Annotated[bool, typer.Option("--header/--no-header",
                                         help="Print a header line on every page.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Convert documents into exactly the fax pages umfax would send (TIFF Class F), or a
    received fax TIFF into PDF."""
    from umfax.conversion import (
        ConversionError,
        ConversionOptions,
        CoverInfo,
        HeaderInfo,
        convert_documents,
        t4_strip,
        tiff_to_pages,
    )
    from umfax.conversion.pages import is_fax_tiff

    console = Console(stderr=True)
    try:
        contents = [(path.name, path.read_bytes()) for path in inputs]
        passthrough = (output.suffix.lower() == ".pdf" and not cover and not header and
                       all(is_fax_tiff(c) for _, c in contents))
        if passthrough:
            pages = [p for _, c in contents for p in tiff_to_pages(c)]
        else:
            cover_info = CoverInfo(
                to_name=to, to_company=to_company, to_fax=to_fax, to_voice=to_voice,
                from_name=sender, from_company=from_company, from_fax=from_fax,
                from_voice=from_voice, subject=subject, comments=comments,
            ) if cover else None
            options = ConversionOptions(
                resolution=resolution.value, encoding=encoding.value, paper=paper.value,
                cover=cover_info, cover_template=cover_template,
                header=HeaderInfo(station_id=from_fax, sender_name=sender) if header else None,
            )
            with Progress(TextColumn("{task.description}"), BarColumn(),
                          TextColumn("{task.completed}/{task.total} pages"),
                          console=console, transient=True,
                          disable=as_json or not console.is_terminal) as bar:
                task = bar.add_task("converting", total=None)

                def advance(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                pages = convert_documents(contents, options, progress=advance)
        kind = _write(pages, output)
    except (ConversionError, OSError) as exc:
        fail(str(exc), Exit.FAILED)
    summary = {
        "output": str(output), "format": kind, "pages": len(pages),
        "bytes": output.stat().st_size,
        "page_bytes": [len(p.data) for p in pages],
        "resolution": [f"{p.x_res:g}x{p.y_res:g}" for p in pages][:1][0],
        "encoding": pages[0].encoding,
        "line_seconds_14400": round(sum(len(t4_strip(p)) for p in pages) * 8 / 14400, 1),
    }
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        console.print(f"wrote {escape(str(output))} ({kind}): {len(pages)} page(s), "
                      f"{summary['bytes']:,} bytes, about {summary['line_seconds_14400']} s "
                      "of line time at 14,400 bit/s")


def register(app: typer.Typer) -> None:
    """Add the ``convert`` command to the umfax CLI."""
    app.command("convert")(convert_command)
