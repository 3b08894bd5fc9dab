"""The openai-whisper engine with real weights: its checkpoint rebuilt offline from the
verified CTranslate2 ``base`` model (``lantai models install base --engine
openai-whisper``), checked tensor by tensor against the CTranslate2 file, then used to
transcribe real clips, sequentially and batched, and compared with faster-whisper."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from bench.textmetrics import cer, wer
from configs.errors import ConfigError
from tasks import asr, media, models
from tasks.asr import AsrOptions
from tasks.asr.convert import ConversionError, convert, read_ct2
from tests.conftest import MODELS, SAMPLES

pytestmark = pytest.mark.slow  # the fast tier: bash scripts/test -m "not slow"

JFK = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        import torch  # noqa: F401
        import whisper  # noqa: F401
    except ImportError:
        pytest.fail("the PyTorch extra is missing: pip install --no-deps -r requirements-torch.lock")
    root = tmp_path_factory.mktemp("models")
    (root / "base").symlink_to(models.resolve(MODELS, "base"), target_is_directory=True)
    return models.install_openai(root, "base")


@pytest.fixture(scope="module")
def engine(checkpoint: Path) -> asr.AsrEngine:
    return asr.load_engine("openai-whisper", checkpoint, "cpu", "auto")


def _wav(name: str, tmp_path: Path) -> Path:
    src = SAMPLES / name
    return media.to_asr_wav(src, tmp_path / "a.wav", media.probe(src))


def test_rebuilt_checkpoint_holds_the_ctranslate2_tensors_exactly(checkpoint: Path) -> None:
    import torch

    data = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state = data["model_state_dict"]
    assert data["dims"]["n_audio_layer"] == data["dims"]["n_text_layer"] == 6
    assert data["dims"]["n_audio_head"] == data["dims"]["n_text_head"] == 8
    assert data["alignment_heads"] and all(len(pair) == 2 for pair in data["alignment_heads"])
    ct2 = dict(read_ct2(models.resolve(MODELS, "base") / "model.bin"))
    q, k, v = np.split(ct2["encoder/layer_3/self_attention/linear_0/weight"], 3)
    assert np.array_equal(state["encoder.blocks.3.attn.query.weight"].numpy(), q)
    assert np.array_equal(state["encoder.blocks.3.attn.key.weight"].numpy(), k)
    assert np.array_equal(state["encoder.blocks.3.attn.value.weight"].numpy(), v)
    kk, vv = np.split(ct2["decoder/layer_5/attention/linear_1/bias"], 2)
    assert not kk.any() and "decoder.blocks.5.cross_attn.key.bias" not in state
    assert np.array_equal(state["decoder.blocks.5.cross_attn.value.bias"].numpy(), vv)
    assert np.array_equal(state["decoder.token_embedding.weight"].numpy(), ct2["decoder/embeddings/weight"])
    assert state["decoder.token_embedding.weight"].dtype == torch.float16  # OpenAI's own dtype
    from whisper.model import ModelDimensions, Whisper

    model = Whisper(ModelDimensions(**data["dims"]))
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not missing and not unexpected  # every parameter and persistent buffer, nothing else
    record = checkpoint.with_name("base.pt.sha256").read_text().strip()
    assert models.verify_checkpoint(checkpoint) == record


def test_rebuilt_engine_transcribes_real_speech_like_faster_whisper(
    engine: asr.AsrEngine, tmp_path: Path
) -> None:
    assert engine.name == "openai-whisper" and engine.model_name == "base" and "torch" in engine.version
    info, segments = engine.transcribe(_wav("jfk 1961 inaugural.flac", tmp_path), AsrOptions())
    segments = list(segments)
    assert info.language == "en" and info.language_probability > 0.9
    text = " ".join(s.text for s in segments)
    assert wer(JFK, text) == 0.0, text
    assert all(0 <= s.start < s.end <= 11.1 and s.words for s in segments)
    faster = asr.load_engine("faster-whisper", models.resolve(MODELS, "base"), "cpu", "int8")
    for clip in ("房地产中介协会.wav", "寄语.wav"):
        wav = _wav(clip, tmp_path)
        ours = "".join(s.text for s in engine.transcribe(wav, AsrOptions(language="zh"))[1])
        theirs = "".join(s.text for s in faster.transcribe(wav, AsrOptions(language="zh"))[1])
        assert cer(theirs, ours) <= 0.2, (ours, theirs)  # same weights; float32 here, int8 there


def test_batched_decoding_on_the_torch_engine(engine: asr.AsrEngine, tmp_path: Path) -> None:
    """VAD windows through ``model.decode`` as one batch, timed words, sentence pieces."""
    _, segments = engine.transcribe(_wav("jfk 1961 inaugural.flac", tmp_path), AsrOptions(batched=True))
    segments = list(segments)
    assert wer(JFK, " ".join(s.text for s in segments)) <= 0.05
    words = [w for s in segments for w in s.words]
    assert words and all(0 <= w.start <= w.end <= 11.1 for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)


def test_speech_to_the_last_sample_completes_with_vad_on_both_engines(
    engine: asr.AsrEngine, tmp_path: Path
) -> None:
    """Issue 33: a clip whose speech runs to its very end, cut more than half a mel frame
    after a frame boundary, as the hanging development clip was. Silero's last region can
    end past the last whole frame; openai-whisper then looped for ever on an empty clip.
    With the regions clamped, both engines finish (each in a thread with a deadline)."""
    import threading
    import wave

    from tasks.asr.vad import HOP, read_all

    audio = read_all(_wav("寄语.wav", tmp_path))
    # mid-speech, 117 samples into a frame: Silero's region ends at the last sample, 0.73 of a
    # frame past the last whole one, and openai-whisper rounds that end up to a frame it lacks
    cut = audio[: (len(audio) // 2 // HOP) * HOP + 117]
    clip = tmp_path / "cut.wav"
    with wave.open(str(clip), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((cut * 32767).astype("<i2").tobytes())
    faster = asr.load_engine("faster-whisper", models.resolve(MODELS, "base"), "cpu", "int8")
    for one in (engine, faster):
        done: list[str] = []

        def run(e: asr.AsrEngine = one, done: list[str] = done) -> None:
            done.append("".join(s.text for s in e.transcribe(clip, AsrOptions(language="zh", vad=True))[1]))

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        thread.join(timeout=300)
        assert done and done[0].strip(), f"{one.name} did not finish the clip"


def test_altered_checkpoint_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    copy = tmp_path / "base.pt"
    copy.write_bytes(checkpoint.read_bytes()[:-10] + b"0123456789")
    (tmp_path / "base.pt.sha256").write_text(checkpoint.with_name("base.pt.sha256").read_text())
    with pytest.raises(ConfigError, match="altered"):
        models.verify_checkpoint(copy)


def test_a_quantized_or_foreign_model_does_not_convert(tmp_path: Path) -> None:
    bad = tmp_path / "m"
    bad.mkdir()
    spec = b"TransformerSpec"
    (bad / "model.bin").write_bytes(struct.pack("<IH", 6, len(spec) + 1) + spec + b"\x00" + b"\x00" * 8)
    (bad / "config.json").write_text("{}")
    with pytest.raises(ConversionError, match="not a Whisper model"):
        convert(bad, tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()


def test_missing_checkpoint_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"openai-whisper/base\.pt"):
        asr.spec("openai-whisper").model(tmp_path, "base")
