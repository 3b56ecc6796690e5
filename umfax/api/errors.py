"""Errors the API answers with: a status code and a message saying what to do."""

from __future__ import annotations

from typing import Any

from umfax.errors import UmfaxError


class ApiError(UmfaxError):
    def __init__(self, status: int, message: str, *, code: str = "", headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or {
            400: "bad_request",
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            409: "conflict",
            413: "too_large",
            422: "invalid",
            429: "rate_limited",
            503: "unavailable",
        }.get(status, "error")
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"status": self.status, "code": self.code, "message": self.message}}
