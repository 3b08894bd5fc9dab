"""Which engine and device ``auto`` picks, for the machines the README describes."""

from __future__ import annotations

import pytest

from tasks import asr


@pytest.mark.parametrize(
    ("ct2", "torch", "checkpoint", "asked", "expected"),
    [
        (0, 0, False, ("auto", "auto"), ("faster-whisper", "cpu")),  # this machine, CI
        (0, 0, True, ("auto", "auto"), ("faster-whisper", "cpu")),  # a checkpoint alone changes nothing
        (1, 1, True, ("auto", "auto"), ("faster-whisper", "cuda")),  # CUDA 12: CTranslate2 runs there
        (0, 1, True, ("auto", "auto"), ("openai-whisper", "cuda")),  # CUDA 13: only PyTorch sees the GPU
        (0, 1, False, ("auto", "auto"), ("faster-whisper", "cpu")),  # ... but no checkpoint built
        (0, 1, True, ("auto", "cpu"), ("faster-whisper", "cpu")),  # the CPU asked for
        (1, 1, True, ("openai-whisper", "auto"), ("openai-whisper", "cuda")),
        (0, 0, True, ("openai-whisper", "auto"), ("openai-whisper", "cpu")),
    ],
)
def test_auto_fits_the_machine(
    monkeypatch: pytest.MonkeyPatch,
    ct2: int,
    torch: int,
    checkpoint: bool,
    asked: tuple[str, str],
    expected: tuple[str, str],
) -> None:
    from tasks.asr import ctranslate, torch_whisper

    monkeypatch.setattr(ctranslate, "cuda_device_count", lambda: ct2)
    monkeypatch.setattr(torch_whisper, "cuda_device_count", lambda: torch)
    installed = {"faster-whisper": True, "openai-whisper": checkpoint}
    assert asr.choose_engine(*asked, installed=installed.__getitem__) == expected
    assert asr.cuda_devices() == {"ctranslate2": ct2, "torch": torch}


def test_one_registry_names_the_asr_engines() -> None:
    """The settings' choices, `lantai models install --engine` and the flow all read the
    registry; each engine module declares its spec once."""
    import typing

    from configs.settings import AsrSettings
    from tasks.asr import ctranslate, torch_whisper
    from tasks.asr.engines import ENGINES, REGISTRY

    assert typing.get_args(AsrSettings.model_fields["engine"].annotation) == ENGINES
    assert list(REGISTRY) == ["faster-whisper", "openai-whisper"]  # the order ``auto`` prefers
    assert REGISTRY["faster-whisper"] is ctranslate.SPEC and REGISTRY["openai-whisper"] is torch_whisper.SPEC
    with pytest.raises(ValueError, match="one of faster-whisper, openai-whisper"):
        asr.spec("whisper.cpp")


def test_an_engine_is_found_by_its_spec(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Where each engine's model lives, and whether it is installed, is its own module's answer."""
    from configs.errors import ConfigError

    fw, ow = asr.spec("faster-whisper"), asr.spec("openai-whisper")
    assert not fw.installed(tmp_path, "base") and not ow.installed(tmp_path, "base")
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "model.bin").write_bytes(b"x")
    assert fw.installed(tmp_path, "base") and fw.model(tmp_path, "base") == tmp_path / "base"
    with pytest.raises(ConfigError, match="openai-whisper"):
        ow.model(tmp_path, "base")
