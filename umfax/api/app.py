"""The FastAPI application: routes, error responses, the request size limit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message, Receive, Scope, Send

from umfax import __version__
from umfax.api import cover_templates, faxes, inbound, ipp, status, twilio_fax, twilio_status
from umfax.api.context import ApiContext
from umfax.api.errors import ApiError
from umfax.config import Config
from umfax.errors import StoreError, UmfaxError, describe_error
from umfax.printer.ports import PrinterEndpoint
from umfax.store import Store

logger = logging.getLogger(__name__)


class SizeLimit:
    """Refuse (413) a request whose body is larger than ``limit`` bytes, declared or not."""

    def __init__(self, app: FastAPI, limit: int) -> None:
        self.app, self.limit = app, limit

    def close(self) -> None:
        """Release what the application started (the console's child processes)."""
        from umfax.web.app import close_console

        close_console(self.app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise self._error()  # answered by the app's ApiError handler
            return message

        await self.app(scope, counted, send)

    def _error(self) -> ApiError:
        return ApiError(413, f"the request is larger than {self.limit:,} bytes ([api] max_request_bytes)")

    async def _refuse(self, send: Send) -> None:
        response = JSONResponse(self._error().body(), status_code=413)
        await response({"type": "http"}, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def create_app(
    config: Config,
    store: Store,
    connector_health: Callable[[], dict[str, Any]] = dict,
    printer: PrinterEndpoint | None = None,
) -> SizeLimit:
    """The API (and the console, and with ``printer`` the fax printer at /ipp/faxout)."""
    app = FastAPI(
        title="umfax",
        version=__version__,
        description="Send and receive faxes. Authenticate with 'Authorization: Bearer KEY' "
        "(`umfax apikey create EMAIL`).",
    )
    app.state.context = ApiContext(config, store, connector_health)
    app.include_router(faxes.router)
    app.include_router(cover_templates.router)
    app.include_router(inbound.router)
    app.include_router(status.router)
    app.include_router(twilio_status.router)
    app.include_router(twilio_fax.router)
    if printer is not None:
        app.state.printer = printer
        app.state.printer_signin = ipp.PrinterSignIn(app.state.context)
        app.include_router(ipp.router)
    from umfax.web.app import mount_console  # the console shares the API's address

    mount_console(app, app.state.context)

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StoreError)
    async def store_error(_request: Request, exc: StoreError) -> JSONResponse:
        logger.error("store error in the API", extra={"error": describe_error(exc)})
        error = ApiError(503, "the store is unavailable; retry shortly")
        return JSONResponse(error.body(), status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(UmfaxError)
    async def umfax_error(_request: Request, exc: UmfaxError) -> JSONResponse:
        error = ApiError(422, describe_error(exc))
        return JSONResponse(error.body(), status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        error = ApiError(422, f"{where}: {first.get('msg', 'invalid request')}")
        return JSONResponse(error.body(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = ApiError(exc.status_code, str(exc.detail))
        return JSONResponse(error.body(), status_code=exc.status_code, headers=exc.headers)

    return SizeLimit(app, config.api.max_request_bytes)
