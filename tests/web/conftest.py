"""Console tests run against the real API server (uvicorn on 127.0.0.1) over a real store."""

from __future__ import annotations

from tests.api.conftest import Api, StartApi, api, start_api

__all__ = ["Api", "StartApi", "api", "start_api"]
