"""Audio and video through ffmpeg (commands built with ffmpeg-python): technical metadata
and derivatives. ffmpeg streams from file to file, so memory stays flat for long recordings."""

from __future__ import annotations

import json
import re
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


def speech_track(src: Path, info: MediaInfo, *, probe_seconds: float = 120) -> int:
    """The first audio track that is not silent in its first two minutes (multi-track
    recordings often carry an empty or a room-tone track first); 0 when none stands out."""
    if len(info.audio) <= 1:
        return 0
    for n in range(len(info.audio)):
        args = ["ffmpeg", "-nostdin", "-v", "info", "-t", str(probe_seconds), "-i", str(src)]
        args += ["-map", f"0:a:{n}", "-af", "volumedetect", "-f", "null", "-"]
        try:
            err = tools.run(args, timeout=_timeout(info), what="measuring audio tracks").stderr.decode(
                errors="replace"
            )
        except tools.ToolError:
            continue
        found = re.search(r"mean_volume:\s*(-?[\d.]+|-inf) dB", err)
        if found and found[1] != "-inf" and float(found[1]) > SPEECH_DB:
            return n
    return 0


SPEECH_DB = -45.0  # mean volume above which a track carries something (speech is ~ -30 to -15 dB)


def waveform_peaks(src: Path, dest: Path, info: MediaInfo, *, per_second: int = 10, track: int = 0) -> Path:
    """Peaks for the review player's waveform: the loudest sample of each 1/``per_second``
    second as 0–100, streamed from ffmpeg in small blocks (bounded memory for any length).
    Writes ``{"per_second", "duration", "peaks": [...]}`` as JSON."""
    import subprocess

    import numpy as np

    rate = 8000
    block = rate // per_second
    args = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(src), "-map", f"0:a:{track}"]
    args += ["-ac", "1", "-ar", str(rate), "-f", "s16le", "-"]
    peaks: list[int] = []
    proc = subprocess.Popen(
        [tools.require("ffmpeg"), *args[1:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    rest = b""
    while chunk := proc.stdout.read(block * 2 * 600):  # a minute at a time
        data = rest + chunk
        usable = len(data) // (block * 2) * block * 2
        rest = data[usable:]
        samples = np.frombuffer(data[:usable], dtype=np.int16).reshape(-1, block)
        peaks += (np.abs(samples.astype(np.int32)).max(axis=1) * 100 // 32768).astype(int).tolist()
    if rest:
        peaks.append(
            int(
                np.abs(np.frombuffer(rest[: len(rest) // 2 * 2], dtype=np.int16).astype(np.int32)).max(
                    initial=0
                )
            )
            * 100
            // 32768
        )
    err = proc.stderr.read().decode(errors="replace")
    if proc.wait() != 0:
        raise MediaInputError(f"cannot compute the waveform: {err.strip()[-300:]}")
    dest.write_text(
        json.dumps(
            {"per_second": per_second, "duration": info.duration, "peaks": peaks}, separators=(",", ":")
        )
    )
    return dest
