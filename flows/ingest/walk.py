"""Local files of a batch: walked without following links (links, FIFOs and devices are refused
without being read), each opened once and pinned (``Pinned``) so that what is hashed is what
is uploaded; and a batch put into the inbox to wait."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from configs.errors import BadInputError
from flows.ingest.common import SKIP_NAMES
from flows.progress import report
from storage import InvalidKeyError, ObjectStore
from storage.base import CHUNK, ObjectNotFound
from storage.keys import inbox_key

# ---------------------------------------------------------------- uploading a local folder


def local_files(
    sources: list[Path], exclude: tuple[Path, ...] = ()
) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
    """(path, name relative to the batch) of every regular file given or under the folders
    given (not under the ``exclude`` folders: batches of their own), and (name, reason) of
    what is refused without being read: symbolic links (to files or folders, never
    followed), FIFOs, sockets and device files."""
    files: list[tuple[Path, str]] = []
    refused: list[tuple[str, str]] = []
    for source in sources:
        found, bad = _local_files(source, frozenset(exclude))
        files += found
        refused += bad
    return files, refused


def _kind_of(mode: int) -> str | None:
    """Why an entry that is not a regular file is refused (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "symbolic link (not followed: only files inside the batch are read)"
    if stat.S_ISFIFO(mode):
        return "named pipe (FIFO), not a file"
    if stat.S_ISSOCK(mode):
        return "socket, not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file, not a file"
    return "not a regular file"


def _local_files(
    source: Path, exclude: frozenset[Path] = frozenset()
) -> tuple[list[tuple[Path, str]], list[tuple[str, str]]]:
    try:
        mode = source.lstat().st_mode
    except OSError as e:
        raise BadInputError(f"{source} does not exist") from e
    if not stat.S_ISDIR(mode):
        reason = _kind_of(mode)
        return ([(source, source.name)], []) if reason is None else ([], [(source.name, reason)])
    files: list[tuple[Path, str]] = []
    refused: list[tuple[str, str]] = []
    for folder, dirs, names in os.walk(source, followlinks=False):
        here = Path(folder)
        rel = here.relative_to(source)
        if any(part.startswith(".") for part in rel.parts):
            continue
        for d in sorted(dirs):
            if (here / d).is_symlink():
                refused.append(((rel / d).as_posix(), _kind_of(stat.S_IFLNK) or ""))
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and not (here / d).is_symlink() and here / d not in exclude
        )
        for name in sorted(names):
            if name in SKIP_NAMES or name.startswith("."):
                continue
            path = here / name
            reason = _kind_of(path.lstat().st_mode)
            relative = (rel / name).as_posix()
            if reason is None:
                files.append((path, relative))
            else:
                refused.append((relative, reason))
    return files, refused


def upload_to_inbox(
    store: ObjectStore, files: list[tuple[Path, str]], *, collection: str, batch: str
) -> list[tuple[Path, str]]:
    """Upload local files into ``inbox/<collection>/<batch>/`` to wait there (a batch whose
    manifest was refused waits for a corrected one). Returns the files whose names storage
    cannot hold: they cannot wait in the inbox, so the caller quarantines them now."""
    unusable = []
    for index, (path, relative) in enumerate(files, 1):
        report("upload", done=index - 1, total=len(files), name=relative)
        try:
            key = inbox_key(collection, batch, relative)
        except InvalidKeyError:
            unusable.append((path, relative))
            continue
        with Pinned(path) as pinned:
            sha = pinned.sha256()
            try:
                if store.stat(key).sha256 == sha:
                    continue  # already waiting there
            except ObjectNotFound:
                pass
            store.put_file(key, pinned.path, sha256=sha)
    report("upload", done=len(files), total=len(files), name="")
    return unusable


class FileChanged(Exception):
    """A local file was replaced or modified while it was being ingested."""


class Pinned:
    """A local file opened once, without following links: every later read (hashing, format
    checks, ffprobe, the upload) goes through this descriptor (``/proc/<pid>/fd/N``), so a
    path swapped for a link meanwhile cannot make Lantai read something else, and a file
    modified in place is noticed (its size or modification time changes)."""

    def __init__(self, path: Path) -> None:
        self.original = path
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            self.fd = os.open(path, flags)
        except OSError as e:  # e.g. swapped for a link since the folder was listed
            raise FileChanged(f"{path.name} cannot be opened as a regular file: {e.strerror}") from e
        st = os.fstat(self.fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(self.fd)
            raise FileChanged(f"{path.name} is no longer a regular file")
        self._signature = (st.st_size, st.st_mtime_ns, st.st_ino)
        self.size = st.st_size
        proc = Path(f"/proc/{os.getpid()}/fd/{self.fd}")
        self.path = proc if proc.exists() else path

    def sha256(self) -> str:
        digest = hashlib.sha256()
        os.lseek(self.fd, 0, os.SEEK_SET)
        while chunk := os.read(self.fd, CHUNK):
            digest.update(chunk)
        return digest.hexdigest()

    def check_unchanged(self) -> None:
        st = os.fstat(self.fd)
        if (st.st_size, st.st_mtime_ns, st.st_ino) != self._signature:
            raise FileChanged(f"{self.original.name} changed while it was being ingested: try again")
        if self.path == self.original:  # no /proc: the path must still name the same file
            now = self.original.lstat()
            if (now.st_size, now.st_mtime_ns, now.st_ino) != self._signature:
                raise FileChanged(f"{self.original.name} was replaced while it was being ingested")

    def __enter__(self) -> Pinned:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)
