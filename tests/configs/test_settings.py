from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from configs.settings import DEFAULT_TOML, Settings


class _ModelOnly(Settings):
    """The settings model with no sources but its own defaults (no TOML, no environment)."""

    @classmethod
    def settings_customise_sources(cls, settings_cls: Any, init_settings: Any, **others: Any) -> Any:
        return (init_settings,)


def _keys(tree: dict[str, Any], prefix: str = "") -> set[str]:
    out = set()
    for key, value in tree.items():
        out |= _keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
    return out


def test_the_shipped_toml_and_the_model_state_the_same_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """One source of defaults: every setting the model has is in configs/default.toml with
    the same value, and the file has nothing the model does not; a change to either alone
    fails here. (The model's values are what the README and the closing notes cite.)"""
    for name in [k for k in os.environ if k.startswith("LANTAI_")]:
        monkeypatch.delenv(name)
    shipped = tomllib.loads(DEFAULT_TOML.read_text())
    model = _ModelOnly().model_dump(mode="json")
    assert _keys(shipped) == _keys(model), _keys(shipped) ^ _keys(model)
    assert _ModelOnly(**shipped).model_dump(mode="json") == model  # values, as the model reads them
    assert Settings().model_dump(mode="json") == model  # what get_settings() gives a new home
    # the values measured and documented (README "Speech recognition", docs/benchmarks.md)
    asr = Settings().asr
    assert (asr.engine, asr.vad, asr.condition_on_previous_text) == ("auto", False, True)


def test_environment_overrides_nested_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LANTAI_HOME", str(tmp_path))
    monkeypatch.setenv("LANTAI_STORAGE__BACKEND", "minio")
    monkeypatch.setenv("LANTAI_STORAGE__SECURE", "true")
    monkeypatch.setenv("LANTAI_DATABASE_URL", "postgresql+psycopg://u@h/db")
    s = Settings()
    assert s.storage.backend == "minio" and s.storage.secure is True
    assert s.storage.bucket == "lantai"  # untouched siblings keep their defaults
    assert s.db_url == "postgresql+psycopg://u@h/db"
    assert s.models_path == tmp_path.resolve() / "models"


def test_user_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "lantai.toml"
    cfg.write_text('[ocr]\nlanguages = "chi_tra+eng"\n[asr]\nscript = "zh-TW"\n')
    monkeypatch.setenv("LANTAI_CONFIG", str(cfg))
    monkeypatch.setenv("LANTAI_ASR__SCRIPT", "zh-HK")
    s = Settings()
    assert s.ocr.languages == "chi_tra+eng" and s.ocr.dpi == 300
    assert s.asr.script == "zh-HK"  # the environment wins over files


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANTAI_STORAGE__BACKEND", "ftp")
    with pytest.raises(ValueError, match="backend"):
        Settings()


def test_secret_is_generated_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LANTAI_HOME", str(tmp_path))
    monkeypatch.delenv("LANTAI_SECRET_KEY", raising=False)
    first = Settings().secret
    assert len(first) == 64 and Settings().secret == first
    assert (tmp_path / ".secret_key").stat().st_mode & 0o077 == 0


def test_get_settings_turns_invalid_values_into_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from configs.errors import ConfigError
    from configs.settings import get_settings

    monkeypatch.setenv("LANTAI_OCR__DPI", "5")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match=r"ocr\.dpi"):
        get_settings()
    get_settings.cache_clear()


def test_the_readme_settings_table_states_the_shipped_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each default the README's configuration table gives in `code` is what the shipped
    settings hold: setting the variable to the stated default changes nothing."""
    for name in [k for k in os.environ if k.startswith("LANTAI_")]:
        monkeypatch.delenv(name)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section_text = readme.split("## Configuration", 1)[1]
    table = re.search(r"^\|.*?(?=\n\n)", section_text, re.MULTILINE | re.DOTALL)[0]  # type: ignore[index]
    shipped = Settings().model_dump(mode="json")
    checked = 0
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        names = re.findall(r"`(LANTAI_\w+|__\w+)`", cells[0])
        defaults = [d.strip() for d in cells[1].split(",")]
        if len(names) != len(defaults):
            continue
        section = names[0].rsplit("__", 1)[0] if "__" in names[0] else ""
        for name, default in zip(names, defaults, strict=True):
            value = re.fullmatch(r"`([^`]*)`", default)
            if value is None or "<" in value[1]:  # "–", "<home>/models": not a literal value
                continue
            full = section + name if name.startswith("__") else name
            monkeypatch.setenv(full, value[1])
            assert Settings().model_dump(mode="json") == shipped, f"README: {full} = {value[1]}"
            monkeypatch.delenv(full)
            checked += 1
    assert checked >= 15, checked


def test_engines_and_benchmarks_decode_with_the_shipped_settings() -> None:
    """``AsrOptions.shipped`` (what enrichment and the benchmarks use) reads the settings;
    the dataclass's own defaults may not drift from them."""
    from configs.settings import AsrSettings
    from tasks.asr import AsrOptions

    shipped = AsrOptions.shipped(AsrSettings())  # the model, which equals default.toml (above)
    assert shipped == AsrOptions()  # a third set of defaults would be a third truth
    assert AsrOptions.shipped(AsrSettings(vad=True, beam_size=2)).vad is True
    assert AsrOptions.shipped(AsrSettings(), language="zh", batched=True).batched is True


def test_processes_starting_at_once_agree_on_one_secret(tmp_path: Path) -> None:
    """The web server and a worker starting together in a new home: one key, never a
    half-written file."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(6) as pool:
        keys = pool.map(_secret_in, [str(tmp_path / "home")] * 24)
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    assert oct((tmp_path / "home" / ".secret_key").stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in (tmp_path / "home").iterdir()] == [".secret_key"]


def _secret_in(home: str) -> str:
    return Settings(home=Path(home)).secret
