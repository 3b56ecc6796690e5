"""What every console page shares: configuration, store, the API's context."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from umfax.api.context import ApiContext
from umfax.config import Config
from umfax.store import Store


@dataclass
class WebContext:
    api: ApiContext

    @property
    def config(self) -> Config:
        return self.api.config

    @property
    def store(self) -> Store:
        return self.api.store


def web_context(request: Request) -> WebContext:
    context: WebContext = request.app.state.web
    return context
