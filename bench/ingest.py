"""Ingest throughput and memory against a bare minio-SDK upload loop, in the same run.

(a) 1,000 small page images; (b) one 2 GB recording. Both go through `lantai ingest` (a
separate process, as a user runs it) into the minio backend on a SeaweedFS server started
here; the baseline uploads the same files with ``Minio.fput_object`` into another bucket.
(c) `lantai ingest` of one small file on the embedded defaults (local folder, SQLite),
start to finish, beside the bare start of the Python interpreter.
Peak RSS is the ingest process's own high-water mark (VmHWM); Prefect's temporary API
server runs beside it as its own process and is not counted.

    .venv/bin/python bench/ingest.py [--small 1000] [--big-gb 2]
"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from minio import Minio
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.servers import S3Server, seaweedfs  # noqa: E402


def make_pages(folder: Path, n: int) -> int:
    folder.mkdir(parents=True)
    total = 0
    for i in range(n):
        img = Image.new("L", (600, 200), 255)
        ImageDraw.Draw(img).text((20, 80), f"Archive page {i} / 档案 {i}", fill=0)
        path = folder / f"page-{i:05d}.png"
        img.save(path)
        total += path.stat().st_size
    return total


def make_wav(path: Path, size: int) -> None:
    """A valid 16 kHz mono 16-bit WAV of ``size`` bytes (silence), written in chunks."""
    data = size - 44
    header = (
        b"RIFF"
        + struct.pack("<I", 36 + data)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
        + b"data"
        + struct.pack("<I", data)
    )
    chunk = b"\0" * (8 << 20)
    with path.open("wb") as fh:
        fh.write(header)
        left = data
        while left:
            fh.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))


def bare_upload(server: S3Server, bucket: str, files: list[Path]) -> float:
    client = Minio(server.endpoint, access_key=server.access_key, secret_key=server.secret_key, secure=False)
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)
    start = time.perf_counter()
    for f in files:
        client.fput_object(bucket, f"bare/{f.parent.name}/{f.name}", str(f), part_size=16 << 20)
    return time.perf_counter() - start


def minio_env(server: S3Server, bucket: str, home: Path) -> dict[str, str]:
    """The environment of a `lantai` process using ``bucket`` on ``server`` and ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANTAI_", "PREFECT_"))}
    env.update(
        {
            "LANTAI_HOME": str(home),
            "LANTAI_STORAGE__BACKEND": "minio",
            "LANTAI_STORAGE__ENDPOINT": server.endpoint,
            "LANTAI_STORAGE__BUCKET": bucket,
            "LANTAI_STORAGE__ACCESS_KEY": server.access_key,
            "LANTAI_STORAGE__SECRET_KEY": server.secret_key,
        }
    )
    return env


def lantai_ingest(server: S3Server, bucket: str, source: Path, home: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of `lantai ingest SOURCE` as a separate process."""
    env = minio_env(server, bucket, home)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lantai", "ingest", str(source), "--collection", "BENCH", "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    peak_kb = 0
    while proc.poll() is None:  # VmHWM: the process's own peak resident set, read until it exits
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            hwm = next(ln for ln in status.splitlines() if ln.startswith("VmHWM"))
            peak_kb = max(peak_kb, int(hwm.split()[1]))
        except (OSError, StopIteration):
            pass
        time.sleep(0.1)
    if proc.returncode:
        raise SystemExit(f"lantai ingest failed ({proc.returncode})")
    return time.perf_counter() - start, peak_kb / 1024


def one_file_on_defaults(root: Path) -> tuple[float, float]:
    """Seconds of `lantai ingest ONE.png` on the embedded defaults, and of `python -c pass`."""
    folder = root / "one"
    make_pages(folder, 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANTAI_", "PREFECT_"))}
    env["LANTAI_HOME"] = str(root / "home-c")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    python_s = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "lantai", "ingest", str(folder / "page-00000.png")],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start, python_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--big-gb", type=float, default=2.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="lantai-bench-", dir=os.environ.get("TMPDIR")) as tmp:
        root = Path(tmp)
        (root / "weed").mkdir()
        with seaweedfs(root / "weed", volume_size_mb=1024) as server:
            pages = root / "pages"
            small_bytes = make_pages(pages, args.small)
            files = sorted(pages.iterdir())
            bare_s = bare_upload(server, "bare", files)
            lantai_s, small_rss = lantai_ingest(server, "lantai-a", pages, root / "home-a")
            print(f"(a) {args.small} small files, {small_bytes / 1e6:.1f} MB")
            print(f"    bare fput_object loop : {bare_s:7.1f} s  {args.small / bare_s:7.1f} files/s")
            print(
                f"    lantai ingest         : {lantai_s:7.1f} s  {args.small / lantai_s:7.1f} files/s"
                f"  ratio lantai/bare time {lantai_s / bare_s:.2f}"
            )
            print(f"    peak RSS of the ingest process: {small_rss:.0f} MB")

            big_dir = root / "big"
            big_dir.mkdir()
            big = big_dir / "long-interview.wav"
            size = int(args.big_gb * 1024**3)
            make_wav(big, size)
            bare_b = bare_upload(server, "bare", [big])
            lantai_b, rss = lantai_ingest(server, "lantai-b", big_dir, root / "home-b")
            print(f"(b) one {size / 1024**3:.1f} GiB file")
            print(f"    bare fput_object      : {bare_b:7.1f} s  {size / bare_b / 1e6:7.1f} MB/s")
            print(
                f"    lantai ingest         : {lantai_b:7.1f} s  {size / lantai_b / 1e6:7.1f} MB/s"
                f"  ratio lantai/bare time {lantai_b / bare_b:.2f}"
            )
            print(f"    peak RSS of the ingest process: {rss:.0f} MB (limit 300 MB)")
        one_s, python_s = one_file_on_defaults(root)
        print("(c) one small file on the embedded defaults (first run in a new home)")
        print(f"    lantai ingest: {one_s:.2f} s start to finish (python -c pass: {python_s:.2f} s)")


if __name__ == "__main__":
    main()
