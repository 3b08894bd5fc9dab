from __future__ import annotations

from pathlib import Path

import pytest

from configs.settings import Settings


def test_defaults_come_from_the_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LANTAI_HOME", raising=False)
    s = Settings()
    assert s.storage.backend == "local" and s.storage.bucket == "lantai"
    assert s.ocr.languages == "chi_sim+eng" and s.asr.model == "base"
    assert s.home == Path("./data")


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
