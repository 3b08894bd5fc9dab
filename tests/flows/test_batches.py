"""A refused manifest holds only what it describes: each path given to `lantai ingest` is a
batch of its own, and so is each folder below with a manifest of its own. A poisoned
manifest in one folder keeps that folder's files waiting; every good file of the other
folders goes in with its own manifest's metadata, and `lantai status` says which folder
waits and why."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from configs import get_settings
from flows.ingest import ingest_flow
from tests.conftest import MODELS
from tests.flows.test_bad_input import RECURSIVE, _items, _page

REPO = Path(__file__).resolve().parents[2]


def _folder(path: Path, pages: dict[str, str], manifest: bytes | None, name: str = "manifest.csv") -> Path:
    path.mkdir(parents=True)
    for file, text in pages.items():
        (path / file).parent.mkdir(parents=True, exist_ok=True)
        _page(path / file, text)
    if manifest is not None:
        (path / name).write_bytes(manifest)
    return path


def _status(home: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANTAI_", "PREFECT_"))}
    env |= {"LANTAI_HOME": str(home), "LANTAI_MODELS_DIR": str(MODELS), "COLUMNS": "250"}
    run = subprocess.run([sys.executable, "-m", "lantai", "status"], env=env, cwd=REPO, capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    return run.stdout


def test_two_folders_given_are_two_batches(home: Path, tmp_path: Path) -> None:
    poisoned = _folder(tmp_path / "A", {"a1.png": "folder A"}, RECURSIVE, "manifest.json")
    good = _folder(tmp_path / "B", {"b1.png": "folder B", "b2.png": "folder B two"},
                   "文件名,题名\nb1.png,乙组第一件\nb2.png,乙组第二件\n".encode())  # fmt: skip
    report = ingest_flow([str(poisoned), str(good)], "PB", None, None)
    states = {b["batch"]: (b["state"], b["folder"]) for b in report["batches"]}
    assert states == {"A": ("waiting", str(poisoned.resolve())), "B": ("ingested", str(good.resolve()))}
    items = _items(get_settings())
    assert items["b1.png"].title == "乙组第一件" and items["b2.png"].title == "乙组第二件"
    assert "a1.png" not in items  # waits in the inbox for a corrected manifest
    status = _status(home)
    assert f"batch PB/A from {poisoned.resolve()}" in status and "manifest refused" in status
    assert "PB/B" not in status
    # the run itself is an event, as the dashboard's "recent runs" reads it
    from sqlmodel import select

    from catalog.db import session_scope
    from catalog.models import Event, EventType

    with session_scope(get_settings()) as session:
        run = session.exec(select(Event).where(Event.type == EventType.ingestion_run)).one()
        assert run.outcome == "success" and run.detail["batches"] == 2 and run.detail["collection"] == "PB"
        assert run.detail["counts"]["ingested"] == 2 and run.detail["counts"]["failed"] == 0


def test_a_parent_folder_splits_at_the_manifests_below_it(home: Path, tmp_path: Path) -> None:
    parent = _folder(tmp_path / "P", {"p0.png": "parent", "z/z1.png": "no manifest of its own"},
                     "文件名,题名\np0.png,总目第一件\nz/z1.png,总目里的子文件夹\n".encode())  # fmt: skip
    _folder(parent / "x", {"x1.png": "poisoned below"}, RECURSIVE, "manifest.json")
    _folder(parent / "y", {"y1.png": "good below", "deep/y2.png": "deeper"},
            "文件名,题名\ny1.png,丙组第一件\ndeep/y2.png,丙组深处\n".encode())  # fmt: skip
    deeper = "文件名,题名\nw1.png,丁组\n".encode()
    _folder(parent / "y" / "w", {"w1.png": "own manifest, deeper still"}, deeper)
    report = ingest_flow(str(parent), "PP", None, None)
    states = {b["batch"]: b["state"] for b in report["batches"]}
    assert states == {"P": "ingested", "P-x": "waiting", "P-y": "ingested", "P-y-w": "ingested"}
    items = _items(get_settings())
    titles = {name: item.title for name, item in items.items() if item.status != "quarantined"}
    assert titles == {"p0.png": "总目第一件", "z1.png": "总目里的子文件夹", "y1.png": "丙组第一件",
                      "y2.png": "丙组深处", "w1.png": "丁组"}  # fmt: skip
    assert "nested deeper" in items["manifest.json"].status_reason  # the refused manifest, quarantined
    status = _status(home)
    assert f"batch PP/P-x from {(parent / 'x').resolve()}" in status and "nested deeper" in status
    # a corrected manifest: the waiting folder goes in by itself
    (parent / "x" / "manifest.json").write_text('[{"file": "x1.png", "title": "戊组"}]', encoding="utf-8")
    again = ingest_flow(str(parent), "PP", None, None)
    assert {b["batch"]: b["state"] for b in again["batches"]}["P-x"] == "ingested"
    assert _items(get_settings())["x1.png"].title == "戊组"
