"""A stand-in ASR engine behind the real engine interface, for the deadline tests: its
first transcription (per marker file) never returns — as openai-whisper's loop on a clip
past the audio's end, inside a call nothing can interrupt — and later ones answer."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

from tasks.asr import AsrInfo, AsrOptions, AsrSegment


class StuckOnce:
    name, version, model_name, model_sha256 = "stuck-once", "1", "none", "0" * 64
    device, compute_type = "cpu", "float32"

    def transcribe(self, wav: Path, options: AsrOptions) -> tuple[AsrInfo, Iterator[AsrSegment]]:
        marker = Path(os.environ["LANTAI_TEST_STUCK_MARKER"])
        info = AsrInfo(language="zh", language_probability=1.0, duration=3.0)
        if not marker.exists():
            marker.write_text(str(os.getpid()))

            def forever() -> Iterator[AsrSegment]:
                yield AsrSegment(0.0, 1.0, "开始了", "开始了", 0.9, 0.0)
                while True:  # a loop inside the engine: no segment ever comes again
                    time.sleep(0.1)

            return info, forever()
        return info, iter([AsrSegment(0.0, 2.0, "第二段录音转写完成", "第二段录音转写完成", 0.9, 0.0)])


def build(engine: str, model_dir: Path, device: str, compute_type: str) -> StuckOnce:
    return StuckOnce()
