"""Turning a job's documents into fax pages (the conversion worker's one job)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from umfax.config import Config
from umfax.conversion import (
    ConversionError,
    ConversionOptions,
    ConversionStopped,
    CoverInfo,
    HeaderInfo,
    convert_documents,
)
from umfax.conversion.cover_templates import template_path
from umfax.conversion.isolated import IsolatedConverter
from umfax.errors import describe_error
from umfax.lifecycle import FailureCause
from umfax.numbers import display
from umfax.store import PageIn, Store
from umfax.store.models import Document, Job

logger = logging.getLogger(__name__)


def conversion_options(job: Job, config: Config) -> ConversionOptions:
    """How ``job`` is rendered; its cover template is the one the sender chose (raises
    :class:`~umfax.conversion.cover_templates.UnknownCoverTemplate`, a ConversionError,
    if that is no longer on offer)."""
    header = (
        HeaderInfo(
            station_id=config.fax.station_id,
            sender_name=config.fax.sender_name,
            date=job.created_at.astimezone(),
        )
        if config.fax.header
        else None
    )
    cover = (
        CoverInfo(
            to_name=job.recipient_name,
            to_company=job.recipient_company,
            to_fax=display(job.number),
            from_name=job.sender or config.fax.sender_name,
            from_fax=config.fax.station_id,
            subject=job.subject,
            comments=job.comments,
            date=job.created_at.astimezone(),
        )
        if job.cover
        else None
    )
    return ConversionOptions(
        resolution=job.resolution,  # type: ignore[arg-type]
        paper=job.paper,  # type: ignore[arg-type]
        encoding="mmr",
        header=header,
        cover=cover,
        cover_template=template_path(
            job.cover_template or "", config.fax.cover_template, config.fax.cover_templates
        )
        if job.cover
        else config.fax.cover_template,
    )


def render(
    job: Job,
    documents: list[Document],
    config: Config,
    isolated: IsolatedConverter | None = None,
    stop: threading.Event | None = None,
) -> list[PageIn]:
    inputs = [(doc.filename, doc.data) for doc in documents]
    options = conversion_options(job, config)
    if isolated is not None:
        pages = isolated.convert(inputs, options, stop)
    else:
        pages = convert_documents(inputs, options)
    return [
        PageIn(data=p.data, width=p.width, length=p.length, x_res=p.x_res, y_res=p.y_res, encoding=p.encoding)
        for p in pages
    ]


class ConversionWorker(threading.Thread):
    """Renders pending jobs one at a time; a bad document fails only its own job."""

    def __init__(
        self, store: Store, config: Config, worker_id: str, stop: threading.Event, wake: threading.Event
    ) -> None:
        super().__init__(name="convert", daemon=True)
        self.store, self.config, self.worker_id = store, config, worker_id
        self.stop, self.wake = stop, wake
        settings = config.conversion
        self.isolated: IsolatedConverter | None = None
        if settings.isolate:
            self.isolated = IsolatedConverter(settings.timeout, settings.memory_limit_mb * 1024 * 1024)

    def run(self) -> None:
        if self.isolated is not None:
            self.isolated.start()
        try:
            while not self.stop.is_set():
                try:
                    worked = self.step()
                except Exception:
                    logger.exception("conversion worker error; continuing")
                    worked = False
                if not worked:
                    self.wake.wait(self.config.queue.poll_interval)
                    self.wake.clear()
        finally:
            if self.isolated is not None:
                self.isolated.close()

    def step(self) -> bool:
        claimed = self.store.claim_conversion(self.worker_id, self.config.queue.lease)
        if claimed is None:
            return False
        job, documents = claimed
        started = datetime.now(UTC)
        try:
            pages = render(job, documents, self.config, self.isolated, self.stop)
        except ConversionStopped:
            # shutting down: the job goes back to the queue now, not at the next start
            self.store.recover(worker_prefix=self.worker_id, reason="the server stopped while converting")
            return False
        except ConversionError as exc:
            logger.warning("conversion failed", extra={"job": job.id, "reason": describe_error(exc)})
            self.store.fail_job(job.id, self.worker_id, FailureCause.BAD_DOCUMENT, describe_error(exc))
            return True
        except Exception as exc:  # a converter bug must not stop the queue
            logger.exception("conversion crashed", extra={"job": job.id})
            self.store.fail_job(
                job.id,
                self.worker_id,
                FailureCause.BAD_DOCUMENT,
                f"internal error while converting: {describe_error(exc)}",
            )
            return True
        self.store.finish_conversion(job.id, self.worker_id, pages)
        logger.info(
            "converted",
            extra={
                "job": job.id,
                "pages": len(pages),
                "seconds": round((datetime.now(UTC) - started).total_seconds(), 3),
            },
        )
        return True
