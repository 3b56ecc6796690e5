"""Console tests run against the real API server (uvicorn on 127.0.0.1) over a real store.

Pages run on SQLite only: what they add over the store is the same on both backends,
and each test pays for a server.  The console's own store queries (searches, usage
sums) run on both: those tests take ``@pytest.mark.parametrize("store_url", BACKENDS,
indirect=True)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import Api, StartApi, api, start_api
from tests.conftest import BACKENDS, fresh_store_url

__all__ = ["BACKENDS", "Api", "StartApi", "api", "start_api"]


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_store_url(request, tmp_path, getattr(request, "param", "sqlite"))
