"""Speech regions handed to an engine lie inside the audio in Whisper's frame units
(issue 33): checked against openai-whisper's own arithmetic for any length and region."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.asr import SAMPLE_RATE
from tasks.asr.vad import HOP, clamp_regions

FRAMES_PER_SECOND = SAMPLE_RATE // HOP  # openai-whisper's clip times are round(t * 100)


@settings(max_examples=500, deadline=None, database=None)
@given(
    st.integers(0, 16000 * 120),
    st.lists(
        st.tuples(st.floats(-1, 130, allow_nan=False), st.floats(-1, 130, allow_nan=False)), max_size=12
    ),
)
def test_clamped_regions_are_whole_frames_inside_the_audio(
    samples: int, regions: list[tuple[float, float]]
) -> None:
    # openai-whisper: mel of the audio padded by 30 s, less its last column, less 3000 frames
    content_frames = (samples + 30 * SAMPLE_RATE) // HOP - 3000
    for start, end in clamp_regions(regions, samples):
        a, b = round(start * FRAMES_PER_SECOND), round(end * FRAMES_PER_SECOND)
        assert 0 <= a < b <= content_frames, (samples, start, end)
        assert abs(start * FRAMES_PER_SECOND - a) < 1e-6 and abs(end * FRAMES_PER_SECOND - b) < 1e-6


def test_a_region_ending_past_the_audio_ends_at_its_last_whole_frame() -> None:
    samples = 88_037  # 5.502 s: 550 whole frames and 37 samples
    assert clamp_regions([(4.2, 5.5023), (5.5021, 5.6)], samples) == [(4.2, 5.5)]
    assert clamp_regions([(0.0, 0.004)], samples) == []  # less than a frame: nothing to decode
