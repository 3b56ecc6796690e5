"""The FaxOut printer's description: what Get-Printer-Attributes answers (RFC 8011 5.4,
PWG 5100.14 IPP Everywhere, PWG 5100.15 FaxOut)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from connectors.ipp.codec import Attribute, Resolution, attr, collection, date_time
from connectors.ipp.constants import Operation, PrinterState, Tag

#: The document formats the conversion takes (PWG raster and URF are decoded by umfax).
DOCUMENT_FORMATS = (
    "application/pdf",
    "image/pwg-raster",
    "image/urf",
    "image/jpeg",
    "text/plain",
    "application/octet-stream",  # the conversion recognises the format itself
)

#: Job template attributes a job may carry (and which Get-Printer-Attributes describes).
JOB_CREATION_ATTRIBUTES = ("destination-uris", "media", "media-col", "copies")

#: PWG media names of the paper a fax is rendered on.
MEDIA = ("iso_a4_210x297mm", "na_letter_8.5x11in", "na_legal_8.5x14in")
_MEDIA_SIZES = {MEDIA[0]: (21000, 29700), MEDIA[1]: (21590, 27940), MEDIA[2]: (21590, 35560)}


@dataclass(frozen=True, slots=True)
class PrinterSettings:
    """What the configuration says about the printer (``[printer]``)."""

    name: str = "Fax"
    location: str = ""
    info: str = "umfax fax printer"
    make_and_model: str = "umfax FaxOut"
    uuid: str = "urn:uuid:6f9c3c1e-1c55-4b8c-9a63-0c7e0cbbd7c1"
    default_media: str = "iso_a4_210x297mm"
    authentication: str = "basic"  # uri-authentication-supported: basic or requesting-user-name
    started: datetime = field(default_factory=lambda: datetime(2000, 1, 1))


def _media_col(name: str) -> dict[str, Attribute]:
    width, height = _MEDIA_SIZES[name]
    size = collection(attr("x-dimension", Tag.INTEGER, width), attr("y-dimension", Tag.INTEGER, height))
    return collection(
        attr("media-size", Tag.BEGIN_COLLECTION, size),
        attr("media-size-name", Tag.KEYWORD, name),
        *(attr(f"media-{side}-margin", Tag.INTEGER, 0) for side in ("bottom", "left", "right", "top")),
    )


def _print_attributes(printer_uri: str) -> list[Attribute]:
    """What IPP/2.0 (PWG 5100.12) asks every printer to describe, for a printer whose
    paper is a fax: one side, monochrome, no finishing; raster at fax resolutions."""
    console = "http" + printer_uri[3:].split("/ipp/", 1)[0] + "/" if printer_uri.startswith("ipp") else ""
    sizes = [
        collection(attr("x-dimension", Tag.INTEGER, w), attr("y-dimension", Tag.INTEGER, h))
        for w, h in _MEDIA_SIZES.values()
    ]
    return [
        attr("color-supported", Tag.BOOLEAN, False),
        attr("finishings-default", Tag.ENUM, 3),
        attr("finishings-supported", Tag.ENUM, 3),
        attr("media-size-supported", Tag.BEGIN_COLLECTION, *sizes),
        attr("media-source-supported", Tag.KEYWORD, "main"),
        attr("media-type-supported", Tag.KEYWORD, "stationery"),
        attr("orientation-requested-default", Tag.ENUM, 3),
        attr("orientation-requested-supported", Tag.ENUM, 3, 4),
        attr("output-bin-default", Tag.KEYWORD, "face-up"),
        attr("output-bin-supported", Tag.KEYWORD, "face-up"),
        attr("pages-per-minute", Tag.INTEGER, 2),
        attr("print-color-mode-default", Tag.KEYWORD, "monochrome"),
        attr("print-color-mode-supported", Tag.KEYWORD, "monochrome"),
        attr("print-quality-default", Tag.ENUM, 4),
        attr("print-quality-supported", Tag.ENUM, 4),
        attr("printer-more-info", Tag.URI, console or "http://localhost/"),
        attr(
            "pwg-raster-document-resolution-supported",
            Tag.RESOLUTION,
            Resolution(200, 200),
            Resolution(300, 300),
        ),
        attr("pwg-raster-document-type-supported", Tag.KEYWORD, "black_1", "sgray_8"),
        attr("sides-default", Tag.KEYWORD, "one-sided"),
        attr("sides-supported", Tag.KEYWORD, "one-sided"),
        attr("urf-supported", Tag.KEYWORD, "V1.4", "CP1", "W8", "RS200-300"),
    ]


def printer_attributes(
    settings: PrinterSettings, printer_uri: str, now: datetime, queued: int
) -> list[Attribute]:
    """Every attribute of the printer, as Get-Printer-Attributes with ``all`` returns them."""
    up = max(1, int((now - settings.started).total_seconds()))
    operations = sorted(int(op) for op in Operation)
    return [
        *_print_attributes(printer_uri),
        attr("charset-configured", Tag.CHARSET, "utf-8"),
        attr("charset-supported", Tag.CHARSET, "utf-8", "us-ascii"),
        attr("compression-supported", Tag.KEYWORD, "none"),
        attr("copies-default", Tag.INTEGER, 1),
        attr("copies-supported", Tag.RANGE, (1, 1)),
        attr("destination-uri-schemes-supported", Tag.URI_SCHEME, "tel"),
        attr("destination-uris-supported", Tag.KEYWORD, "destination-uri", "pre-dial-string"),
        attr("document-format-default", Tag.MIME_TYPE, "application/octet-stream"),
        attr("document-format-supported", Tag.MIME_TYPE, *DOCUMENT_FORMATS),
        attr("generated-natural-language-supported", Tag.LANGUAGE, "en"),
        attr("ipp-features-supported", Tag.KEYWORD, "faxout"),
        attr("ipp-versions-supported", Tag.KEYWORD, "1.0", "1.1", "2.0"),
        attr("job-creation-attributes-supported", Tag.KEYWORD, *JOB_CREATION_ATTRIBUTES),
        attr("job-ids-supported", Tag.BOOLEAN, True),
        attr("media-col-default", Tag.BEGIN_COLLECTION, _media_col(settings.default_media)),
        attr("media-col-ready", Tag.BEGIN_COLLECTION, *(_media_col(m) for m in MEDIA)),
        attr(
            "media-col-supported",
            Tag.KEYWORD,
            "media-size",
            "media-size-name",
            "media-bottom-margin",
            "media-left-margin",
            "media-right-margin",
            "media-top-margin",
        ),
        attr("media-default", Tag.KEYWORD, settings.default_media),
        attr("media-ready", Tag.KEYWORD, *MEDIA),
        attr("media-supported", Tag.KEYWORD, *MEDIA),
        attr("multiple-destination-uris-supported", Tag.BOOLEAN, True),
        attr("multiple-document-jobs-supported", Tag.BOOLEAN, False),
        attr("multiple-operation-time-out", Tag.INTEGER, 300),
        attr("natural-language-configured", Tag.LANGUAGE, "en"),
        attr("operations-supported", Tag.ENUM, *operations),
        attr("pdl-override-supported", Tag.KEYWORD, "attempted"),
        attr("printer-current-time", Tag.DATE_TIME, date_time(now)),
        attr("printer-info", Tag.TEXT, settings.info),
        attr("printer-is-accepting-jobs", Tag.BOOLEAN, True),
        attr("printer-location", Tag.TEXT, settings.location),
        attr("printer-make-and-model", Tag.TEXT, settings.make_and_model),
        attr("printer-name", Tag.NAME, settings.name),
        attr("printer-resolution-default", Tag.RESOLUTION, Resolution(204, 196)),
        attr("printer-resolution-supported", Tag.RESOLUTION, Resolution(204, 98), Resolution(204, 196)),
        attr("printer-state", Tag.ENUM, int(PrinterState.IDLE)),
        attr("printer-state-reasons", Tag.KEYWORD, "none"),
        attr("printer-up-time", Tag.INTEGER, up),
        attr("printer-uri-supported", Tag.URI, printer_uri),
        attr("printer-uuid", Tag.URI, settings.uuid),
        attr("queued-job-count", Tag.INTEGER, queued),
        attr("uri-authentication-supported", Tag.KEYWORD, settings.authentication),
        attr("uri-security-supported", Tag.KEYWORD, "none"),
        attr("which-jobs-supported", Tag.KEYWORD, "completed", "not-completed", "all"),
    ]


def select(attributes: list[Attribute], requested: list[str]) -> list[Attribute]:
    """The attributes ``requested-attributes`` asks for (RFC 8011 5.2.5 group names too)."""
    if not requested or {"all", "printer-description", "job-template"} & set(requested):
        return attributes
    wanted = set(requested)
    return [a for a in attributes if a.name in wanted]
