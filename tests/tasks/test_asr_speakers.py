"""Speaker turns on a real two-speaker interview: two people's real recordings (the
AISHELL-1 speaker of 房地产中介协会.wav and the CosyVoice speaker of 寄语.wav) in
alternating turns, transcribed by real Whisper, told apart by resemblyzer's bundled
voice encoder, scored as the benchmark scores them (DER, 0.25 s collar)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from bench.diarization import RATE, assemble, der, load
from tasks import asr, models
from tasks.asr import AsrOptions, AsrSegment, AsrWord, speakers
from tests.conftest import MODELS, SAMPLES

pytestmark = pytest.mark.slow  # the fast tier: bash scripts/test -m "not slow"


@pytest.fixture(scope="module")
def interview(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[float, float, str]]]:
    tmp = tmp_path_factory.mktemp("interview")
    a, b = load(SAMPLES / "房地产中介协会.wav", tmp), load(SAMPLES / "寄语.wav", tmp)
    audio, reference = assemble(a, b, 60, seed=1)
    path = tmp / "interview.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((audio * 32767).astype(np.int16).tobytes())
    return path, reference


def test_two_voices_are_told_apart(interview: tuple[Path, list[tuple[float, float, str]]]) -> None:
    path, reference = interview
    engine = asr.load_engine("faster-whisper", models.resolve(MODELS, "base"), "cpu", "int8")
    # batched, as interviews of a backlog are decoded: sequential Whisper, conditioned on the
    # text before, skips an utterance repeated word for word (this interview's material)
    segments = list(engine.transcribe(path, AsrOptions(language="zh", batched=True))[1])
    turned = speakers.assign(path, segments, 2)
    assert {s.speaker for s in turned} == {"SPEAKER_1", "SPEAKER_2"}
    assert turned[0].speaker == "SPEAKER_1"  # numbered in order of appearance
    one = der(reference, [(s.start, s.end, "SPEAKER_1") for s in segments])["der"]
    found = der(reference, [(s.start, s.end, s.speaker) for s in turned])
    assert found["der"] < 0.2 < one, (found, one)
    assert found["confusion"] < 0.05  # who spoke: right for (nearly) every scored frame
    # nothing of the text is lost or reordered by splitting segments at speaker changes
    assert "".join(w.word for s in turned for w in s.words) == "".join(
        w.word for s in segments for w in s.words
    )
    assert all(s.start < s.end and s.words for s in turned)


def test_one_expected_speaker_changes_nothing(interview: tuple[Path, list[tuple[float, float, str]]]) -> None:
    segment = AsrSegment(0.0, 2.0, "你好", "你好", 0.9, 0.0, [AsrWord(0.0, 1.0, "你", 0.9)])
    assert speakers.assign(interview[0], [segment], 1) == [segment]
    assert speakers.assign(interview[0], [], 2) == []


def test_a_split_segment_keeps_its_raw_text_in_step() -> None:
    words = [AsrWord(0.0, 0.5, "我们", 0.9), AsrWord(0.5, 1.0, "走吧", 0.8), AsrWord(1.2, 2.0, "好的", 0.7)]
    seg = AsrSegment(0.0, 2.0, "我们走吧好的", "我們走吧好的", 0.8, 0.0, words)
    first, second = speakers._split(seg, [0, 0, 1], {0: "SPEAKER_1", 1: "SPEAKER_2"})
    assert (first.text, first.raw_text, first.speaker) == ("我们走吧", "我們走吧", "SPEAKER_1")
    assert (second.text, second.raw_text, second.speaker, second.start) == ("好的", "好的", "SPEAKER_2", 1.2)


def test_a_turn_shorter_than_a_second_is_absorbed() -> None:
    words = [AsrWord(i * 0.3, i * 0.3 + 0.3, "字", 0.9) for i in range(12)]
    labels = [0] * 5 + [1] * 2 + [0] * 5  # 0.6 s of the other voice inside one turn: a wavering window
    assert speakers._smooth(words, labels) == [0] * 12
    labels = [0] * 6 + [1] * 6  # 1.8 s each: a real change of speaker
    assert speakers._smooth(words, labels) == labels
