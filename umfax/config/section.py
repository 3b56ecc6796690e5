"""What every configuration section shares: the frozen, strict base model and common key types."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict

from umfax.durations import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration)]

TlsMode = Literal["implicit", "starttls", "none"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
