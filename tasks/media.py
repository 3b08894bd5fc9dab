"""Audio and video through ffmpeg (commands built with ffmpeg-python): technical metadata
and derivatives. ffmpeg streams from file to file, so memory stays flat for long recordings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ffmpeg

from configs.errors import BadInputError
from tasks import tools


class MediaInputError(BadInputError):
    """The recording cannot be decoded or has no audio."""


@dataclass
class MediaInfo:
    """Technical metadata (maps to PBCore instantiation fields)."""

    container: str
    duration: float
    size: int
    bit_rate: int | None
    audio: list[dict[str, Any]] = field(default_factory=list)  # codec, sample_rate, channels, bit_depth
    video: list[dict[str, Any]] = field(default_factory=list)  # codec, width, height, frame_rate

    def as_dict(self) -> dict[str, Any]:
        return {
            "container": self.container,
            "duration": self.duration,
            "size": self.size,
            "bit_rate": self.bit_rate,
            "audio": self.audio,
            "video": self.video,
        }


def probe(path: Path, *, timeout: float = 60) -> MediaInfo:
    """ffprobe the file. Raises MediaInputError for what ffmpeg cannot read."""
    try:
        out = tools.run(
            ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
            timeout=timeout,
            what="probing media",
        ).stdout
    except tools.ToolError as e:
        raise MediaInputError(f"cannot read the recording: {e}") from e
    data = json.loads(out or b"{}")
    fmt = data.get("format", {})
    audio, video = [], []
    for s in data.get("streams", []):
        if s.get("codec_type") == "audio":
            audio.append(
                {
                    "index": s.get("index"),
                    "codec": s.get("codec_name"),
                    "sample_rate": int(s.get("sample_rate", 0) or 0),
                    "channels": s.get("channels"),
                    "bit_depth": s.get("bits_per_raw_sample") or s.get("bits_per_sample") or None,
                    "language": (s.get("tags") or {}).get("language"),
                }
            )
        elif s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic"):
            video.append(
                {
                    "index": s.get("index"),
                    "codec": s.get("codec_name"),
                    "width": s.get("width"),
                    "height": s.get("height"),
                    "frame_rate": s.get("avg_frame_rate"),
                }
            )
    return MediaInfo(
        container=fmt.get("format_name", ""),
        duration=float(fmt.get("duration") or 0),
        size=int(fmt.get("size") or 0),
        bit_rate=int(fmt["bit_rate"]) if fmt.get("bit_rate") else None,
        audio=audio,
        video=video,
    )


def _timeout(info: MediaInfo) -> float:
    return 120 + info.duration  # decoding runs far faster than real time; this catches hangs


def to_asr_wav(src: Path, dest: Path, info: MediaInfo, *, track: int = 0) -> Path:
    """16 kHz mono 16-bit WAV of audio track ``track`` (the ASR input)."""
    if not info.audio:
        raise MediaInputError("the recording has no audio track")
    if track >= len(info.audio):
        raise MediaInputError(f"audio track {track} requested; the file has {len(info.audio)}")
    stream = ffmpeg.input(str(src))[f"a:{track}"]
    args = (
        ffmpeg.output(stream, str(dest), ac=1, ar=16000, acodec="pcm_s16le", f="wav")
        .overwrite_output()
        .global_args("-nostdin", "-v", "error")
        .compile()
    )
    try:
        tools.run(args, timeout=_timeout(info), what="converting audio for ASR")
    except tools.ToolError as e:
        raise MediaInputError(f"cannot decode the audio: {e}") from e
    return dest


def access_copy(src: Path, dest: Path, info: MediaInfo, *, track: int = 0) -> Path:
    """A small browser copy: AAC audio in .m4a, or H.264 + AAC .mp4 for video."""
    inp = ffmpeg.input(str(src))
    if info.video:
        out = ffmpeg.output(
            inp["v:0"],
            inp[f"a:{track}"],
            str(dest),
            vcodec="libx264",
            preset="veryfast",
            crf=28,
            vf="scale=-2:'min(480,ih)'",
            acodec="aac",
            audio_bitrate="96k",
            movflags="+faststart",
            f="mp4",
        )
    else:
        out = ffmpeg.output(
            inp[f"a:{track}"],
            str(dest),
            acodec="aac",
            audio_bitrate="64k",
            ac=1,
            movflags="+faststart",
            f="mp4",
        )
    args = out.overwrite_output().global_args("-nostdin", "-v", "error").compile()
    try:
        tools.run(args, timeout=_timeout(info) * 3, what="making the access copy")
    except tools.ToolError as e:
        raise MediaInputError(f"cannot make the access copy: {e}") from e
    return dest
