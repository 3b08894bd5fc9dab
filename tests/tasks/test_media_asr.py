"""ffmpeg derivatives and real Whisper (the multilingual base model) on short real clips."""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import pytest

from tasks import asr, media, models
from tasks.asr import AsrOptions
from tests.conftest import MODELS, SAMPLES

pytestmark = pytest.mark.slow  # the fast tier: bash scripts/test -m "not slow"


@pytest.fixture(scope="module")
def engine() -> asr.AsrEngine:
    model_dir = models.resolve(MODELS, "base")
    return asr.load_engine("faster-whisper", model_dir, "cpu", "int8")


def _wav(src: Path, tmp_path: Path) -> Path:
    info = media.probe(src)
    return media.to_asr_wav(src, tmp_path / "asr.wav", info)


def test_probe_and_asr_wav(tmp_path: Path) -> None:
    info = media.probe(SAMPLES / "jfk 1961 inaugural.flac")
    assert info.container == "flac" and 10.9 < info.duration < 11.1
    assert info.audio[0]["sample_rate"] == 44100 and info.audio[0]["channels"] == 2
    wav = media.to_asr_wav(SAMPLES / "jfk 1961 inaugural.flac", tmp_path / "a.wav", info)
    with wave.open(str(wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        assert abs(w.getnframes() / 16000 - info.duration) < 0.1
    access = media.access_copy(SAMPLES / "jfk 1961 inaugural.flac", tmp_path / "a.mp4", info)
    assert media.probe(access).audio[0]["codec"] == "aac"


def test_video_without_audio_is_a_clear_error(tmp_path: Path) -> None:
    video = tmp_path / "silent.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=1:size=64x64:rate=5",
            "-pix_fmt",
            "yuv420p",
            str(video),
        ],
        check=True,
    )
    info = media.probe(video)
    assert info.video and not info.audio
    with pytest.raises(media.MediaInputError, match="no audio"):
        media.to_asr_wav(video, tmp_path / "x.wav", info)


def test_truncated_recording(tmp_path: Path) -> None:
    bad = tmp_path / "cut.flac"
    bad.write_bytes((SAMPLES / "jfk 1961 inaugural.flac").read_bytes()[:2000])
    with pytest.raises(media.MediaInputError):
        info = media.probe(bad)
        media.to_asr_wav(bad, tmp_path / "x.wav", info)


def test_english_with_word_timestamps(engine: asr.AsrEngine, tmp_path: Path) -> None:
    info, segments = engine.transcribe(_wav(SAMPLES / "jfk 1961 inaugural.flac", tmp_path), AsrOptions())
    segs = list(segments)
    assert info.language == "en"
    text = " ".join(s.text for s in segs).lower()
    assert "ask not what your country can do for you" in text
    words = [w for s in segs for w in s.words]
    assert words and all(0 <= w.start <= w.end <= 11.1 for w in words)
    assert all(0 < w.probability <= 1 for w in words)
    country = next(w for w in words if "country" in w.word)
    assert 3.0 < country.start < 7.0


def test_chinese_output_is_in_the_collection_script(engine: asr.AsrEngine, tmp_path: Path) -> None:
    wav = _wav(SAMPLES / "房地产中介协会.wav", tmp_path)
    _, simplified = engine.transcribe(wav, AsrOptions(language="zh", script="zh-Hans"))
    s_text = "".join(s.text for s in simplified)
    assert "广州" in s_text and "协会" in s_text
    _, traditional = engine.transcribe(wav, AsrOptions(language="zh", script="zh-Hant"))
    t_segs = list(traditional)
    t_text = "".join(s.text for s in t_segs)
    assert "廣州" in t_text and "協會" in t_text
    assert "".join(w.word for s in t_segs for w in s.words).strip() == t_text.replace(" ", "")
    assert t_segs[0].raw_text  # the engine's own output is kept


def test_silence_gives_no_segments(engine: asr.AsrEngine, tmp_path: Path) -> None:
    silent = tmp_path / "silence.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "5", str(silent)],
        check=True,
    )
    _, segments = engine.transcribe(silent, AsrOptions())
    assert list(segments) == []


def test_missing_model_names_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="lantai models install base"):
        models.resolve(tmp_path, "base")


def test_repetition_loops_are_flagged() -> None:
    assert asr._repeats("谢谢谢谢谢谢谢谢谢谢")
    assert asr._repeats("thank you thank you thank you thank you")
    assert not asr._repeats("我们村在一九五八年修了水库")


@pytest.mark.parametrize(
    ("text", "start", "end", "previous", "ratio", "no_speech", "expected"),
    [
        ("我们村在一九五八年修了水库", 0.0, 3.0, "", 1.2, 0.01, []),
        ("谢谢谢谢谢谢谢谢谢谢谢谢", 0.0, 3.0, "", 1.2, 0.01, ["loop"]),
        ("Thank you. Thank you. Thank you. Thank you.", 0.0, 4.0, "", 1.5, 0.01, ["loop"]),
        ("他说好的好的好的好的好的然后走了", 0.0, 4.0, "", 1.5, 0.01, ["repetition"]),
        ("今天天气很好", 5.0, 7.0, "今天天气很好", 1.0, 0.01, ["repetition"]),
        ("字幕由社区提供", 0.0, 2.0, "", 1.0, 0.9, ["no_speech"]),
        ("这是一段在半秒钟里说完的非常非常长的话", 1.0, 1.5, "", 1.0, 0.01, ["too_fast"]),
        ("ask not what your country can do for you", 0.0, 3.5, "", 1.1, 0.01, []),
    ],
)
def test_doubt_flags(
    text: str, start: float, end: float, previous: str, ratio: float, no_speech: float, expected: list[str]
) -> None:
    assert (
        asr.doubt_flags(
            text, start=start, end=end, previous=previous, compression_ratio=ratio, no_speech_prob=no_speech
        )
        == expected
    )


def _lavfi(tmp_path: Path, name: str, source: str, seconds: float, *extra: str) -> Path:
    out = tmp_path / name
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", source, "-t", str(seconds), *extra, str(out)],
        check=True,
    )
    return out


def test_pure_noise_stores_no_confident_text(engine: asr.AsrEngine, tmp_path: Path) -> None:
    noise = _lavfi(tmp_path, "noise.wav", "anoisesrc=r=16000:a=0.3:c=white", 8, "-ac", "1")
    _, segments = engine.transcribe(noise, AsrOptions())
    # VAD drops it; whatever Whisper might still say over noise must carry a doubt flag
    assert all(s.flags for s in segments)


def test_a_fifth_of_a_second(engine: asr.AsrEngine, tmp_path: Path) -> None:
    clip = _lavfi(tmp_path, "short.flac", "sine=f=440:r=44100", 0.2)
    info = media.probe(clip)
    assert 0.15 < info.duration < 0.25
    _, segments = engine.transcribe(media.to_asr_wav(clip, tmp_path / "s.wav", info), AsrOptions())
    assert list(segments) == []


def test_truncated_mp3_decodes_what_is_there(tmp_path: Path) -> None:
    mp3 = tmp_path / "full.mp3"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(SAMPLES / "jfk 1961 inaugural.flac"), str(mp3)], check=True
    )
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(mp3.read_bytes()[: mp3.stat().st_size // 2])
    info = media.probe(cut)
    wav = media.to_asr_wav(cut, tmp_path / "cut.wav", info)
    with wave.open(str(wav)) as w:
        assert 4 < w.getnframes() / 16000 < 7  # the first half, not a crash and not silence padding


def test_unsupported_codec_is_a_clear_error(tmp_path: Path) -> None:
    data = bytearray((SAMPLES / "寄语.wav").read_bytes())
    fmt = data.index(b"fmt ") + 8
    data[fmt : fmt + 2] = (0x3333).to_bytes(2, "little")  # a WAVE format tag no decoder knows
    odd = tmp_path / "odd.wav"
    odd.write_bytes(bytes(data))
    with pytest.raises(media.MediaInputError, match="cannot"):
        media.to_asr_wav(odd, tmp_path / "x.wav", media.probe(odd))


def test_long_recordings_are_read_in_windows_cut_at_silence(
    engine: asr.AsrEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three copies of a speech with gaps, read in 15-second windows: every copy is heard, at
    its own time, and no window ends inside a word."""
    one = _wav(SAMPLES / "jfk 1961 inaugural.flac", tmp_path)
    gap = _lavfi(tmp_path, "gap.wav", "anullsrc=r=16000:cl=mono", 3, "-c:a", "pcm_s16le")
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in (one, gap, one, gap, one)))
    long = tmp_path / "long.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(long)],
        check=True,
    )
    monkeypatch.setattr(asr, "CHUNK_SECONDS", 12)
    monkeypatch.setattr(asr, "TAIL_SECONDS", 4)
    windows = list(asr._windows(long))
    assert len(windows) >= 3 and windows[0][0] == 0.0
    total = sum(len(a) for _, a in windows) / 16000
    assert abs(total - 39.0) < 0.2  # nothing lost, nothing read twice
    info, segments = engine.transcribe(long, AsrOptions())
    segs = list(segments)
    assert info.language == "en" and abs(info.duration - 39.0) < 0.2
    starts = [w.start for s in segs for w in s.words if "country" in w.word]
    assert len(starts) >= 3  # "…your country…your country" at least once per copy
    assert {int(t // 14) for t in starts} == {0, 1, 2}  # in each copy's own time
    assert [s.start for s in segs] == sorted(s.start for s in segs)


def test_multi_track_picks_the_speech_and_peaks_follow_the_sound(tmp_path: Path) -> None:
    two = tmp_path / "two-tracks.mka"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=44100:cl=stereo",
            "-i",
            str(SAMPLES / "jfk 1961 inaugural.flac"),
            "-map",
            "0:a",
            "-map",
            "1:a",
            "-t",
            "11",
            "-c:a",
            "flac",
            str(two),
        ],
        check=True,
    )
    info = media.probe(two)
    assert len(info.audio) == 2
    assert media.speech_track(two, info) == 1  # track 0 is silent
    peaks = json.loads(media.waveform_peaks(two, tmp_path / "p.json", info, track=1).read_text())
    assert peaks["per_second"] == 10 and abs(len(peaks["peaks"]) - 110) <= 2
    assert max(peaks["peaks"]) > 20 and all(0 <= p <= 100 for p in peaks["peaks"])
    silent = json.loads(media.waveform_peaks(two, tmp_path / "s.json", info, track=0).read_text())
    assert max(silent["peaks"]) == 0
