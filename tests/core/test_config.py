from __future__ import annotations

import re
from pathlib import Path
from typing import get_args, get_origin

import pytest
from pydantic import BaseModel

from umfax.config import Config, load_config, parse_config
from umfax.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def test_no_file_gives_embedded_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("UMFAX_CONFIG", raising=False)
    monkeypatch.setenv("UMFAX_DATA_DIR", str(tmp_path))
    config = load_config(None)
    assert config.database_url() == f"sqlite:///{tmp_path / 'umfax.db'}"
    assert [line.port for line in config.lines] == ["sim:+12125550100", "sim:+12125550101"]


def _models_in(annotation: object) -> list[type[BaseModel]]:
    """The config models a field's annotation holds (directly, in a list, or in a union)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        found += _models_in(arg)
    return found


def _documented_keys(model: type[BaseModel]) -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        inner = _models_in(field.annotation)
        if not inner:
            out.append(name)
            continue
        if get_origin(field.annotation) is list:  # [[tables]]: their keys, and the table itself
            out.append(f"[[{name}]]")
        for sub in inner:
            out += _documented_keys(sub)
    return out


def _documented(key: str, text: str) -> bool:
    if key.startswith("[["):  # a table array, or an inline array of tables
        name = key.strip("[]")
        nested = re.search(rf"\[\[[a-z_]+\.{re.escape(name)}\]\]", text) is not None  # [[section.name]]
        return nested or any(form in text for form in (key, f"\n{name} = ["))
    return re.search(rf"(\n|\n# |{{ |, ){re.escape(key)} =", text) is not None


def test_example_config_is_valid_and_documents_every_key() -> None:
    load_config(EXAMPLE)
    text = EXAMPLE.read_text()
    missing = []
    for key in dict.fromkeys(_documented_keys(Config)):
        if not _documented(key, text):
            missing.append(key)
    assert "[[lines]]" in text
    assert not missing, f"config.example.toml does not document: {missing}"


def test_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[queue]\nmax_tries = 0\nkill_after = "soon"\n[[lines]]\nname = "a"\nport = "sim:"\n'
        '[fax]\ndefualt_country = "US"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "queue.max_tries" in message
    assert "queue.kill_after" in message and "'soon' is not a duration" in message
    assert "lines[0].port" in message
    assert "fax.defualt_country: unknown key" in message


def test_bad_toml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)


def test_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config({"store": {"url_env": "UMFAX_TEST_DB"}})
    monkeypatch.delenv("UMFAX_TEST_DB", raising=False)
    with pytest.raises(ConfigError, match="UMFAX_TEST_DB"):
        config.database_url()
    monkeypatch.setenv("UMFAX_TEST_DB", "postgresql://fax:s3cret@db/umfax")
    assert config.database_url().endswith("@db/umfax")


def test_password_in_url_is_refused() -> None:
    with pytest.raises(ConfigError, match="url_env"):
        parse_config({"store": {"url": "postgresql://fax:s3cret@db/umfax"}})


def test_line_ports_take_urls_devices_and_sim() -> None:
    config = parse_config(
        {
            "lines": [
                {"name": "usb", "port": "/dev/ttyUSB0"},
                {"name": "net", "port": "socket://10.0.0.5:4001"},
                {"name": "rfc", "port": "rfc2217://modem-server:7000"},
                {"name": "sim", "port": "sim:+12125550199"},
            ]
        }
    )
    assert [line.simulated for line in config.lines] == [False, False, False, True]
    with pytest.raises(ConfigError, match="unique"):
        parse_config({"lines": [{"name": "a", "port": "/dev/a"}, {"name": "a", "port": "/dev/b"}]})


def test_durations() -> None:
    config = parse_config({"queue": {"kill_after": "1h30m", "retry": {"busy": 90}}})
    assert config.queue.kill_after == 5400 and config.queue.retry.busy == 90
    assert isinstance(config, Config)
