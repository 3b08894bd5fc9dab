"""The openai-whisper engine behind the same interface. Its real checkpoints come from
openai-whisper's own site (not reachable here), so the test builds a tiny checkpoint of
the real architecture with random weights: the text is noise, but loading, language
detection, windows, word timings, post-processing and provenance all run for real."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path

import pytest

from tasks import asr, media, models
from tasks.asr import AsrOptions
from tests.conftest import SAMPLES


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        import torch
        from whisper.model import ModelDimensions, Whisper
    except ImportError:
        pytest.fail("the openai-whisper extra is missing: pip install torch==2.13.0 openai-whisper")
    dims = ModelDimensions(
        n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2, n_audio_layer=1,
        n_vocab=51865, n_text_ctx=448, n_text_state=64, n_text_head=2, n_text_layer=1,
    )  # fmt: skip
    torch.manual_seed(0)
    model = Whisper(dims)
    # Equal logits for every token: decoding stays finite (random output projections can
    # mask every token at a fallback temperature and give NaN probabilities).
    with torch.no_grad():
        model.decoder.token_embedding.weight.zero_()
    folder = tmp_path_factory.mktemp("models") / models.OPENAI_DIR
    folder.mkdir()
    path = folder / "tiny-random.pt"
    torch.save({"dims": asdict(dims), "model_state_dict": model.state_dict()}, path)
    return path


def test_engine_loads_from_the_model_directory_and_transcribes(checkpoint: Path, tmp_path: Path) -> None:
    found = models.resolve_for("openai-whisper", checkpoint.parent.parent, "tiny-random")
    assert found == checkpoint
    loaded = asr.load_engine("openai-whisper", found, "cpu", "auto")
    assert loaded.name == "openai-whisper" and loaded.model_name == "tiny-random"
    from tasks.asr_openai import OpenAIWhisperEngine, _read_all

    # greedy only: with random weights the fallback temperatures would sample noise for minutes
    engine = OpenAIWhisperEngine(found, device="cpu", temperatures=(0.0,))
    assert engine.model_sha256 == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert "torch" in engine.version
    wav = media.to_asr_wav(
        SAMPLES / "jfk 1961 inaugural.flac",
        tmp_path / "a.wav",
        media.probe(SAMPLES / "jfk 1961 inaugural.flac"),
    )
    info, segments = engine.transcribe(wav, AsrOptions(language="en", beam_size=1))
    assert info.language == "en" and abs(info.duration - 11.0) < 0.2
    for seg in segments:  # random weights: whatever comes out is timed, bounded and doubted
        assert isinstance(seg, asr.AsrSegment)
        assert 0 <= seg.start <= seg.end <= 11.1  # nothing past the end of the audio
        assert all(0 <= w.start <= w.end <= 11.1 for w in seg.words)
    language, probability = engine._language(_read_all(wav), None)
    assert language and 0 <= probability <= 1


def test_missing_checkpoint_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"openai-whisper/base\.pt"):
        models.resolve_for("openai-whisper", tmp_path, "base")
