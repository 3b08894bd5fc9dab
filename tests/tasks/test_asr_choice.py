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
    monkeypatch.setattr(asr, "_ctranslate2_gpus", lambda: ct2)
    monkeypatch.setattr(asr, "_torch_gpus", lambda: torch)
    assert asr.choose_engine(*asked, openai_checkpoint=checkpoint) == expected
