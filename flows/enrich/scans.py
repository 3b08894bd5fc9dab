"""OCR of a scanned master: pages read as they come, each page's rows written in a short
transaction of its own (a re-run keeps editors' corrections)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import col, delete, func, select

from catalog import crud
from catalog.db import session_scope
from catalog.models import (
    Asset,
    AssetRole,
    Collection,
    EventType,
    Item,
    Page,
)
from catalog.review.editing import add_machine_reading
from configs import Settings
from flows.enrich.common import ItemOutcome, publish_progress, result_key, store_derivative
from flows.progress import report
from storage import ObjectStore
from storage.keys import derivative_key
from tasks import ocr

# ---------------------------------------------------------------- OCR

OCR_DONE = "ocr_result_key"  # asset.tech: the result key whose pages are complete ("" while running)


def _page_lines(page: ocr.PageResult) -> list[dict[str, Any]]:
    return [
        {
            "text": ln.text,
            "bbox": list(ln.bbox),
            "conf": ln.conf,
            "words": [{"text": w.text, "bbox": list(w.bbox), "conf": w.conf} for w in ln.words],
        }
        for ln in page.lines
    ]


def _write_page(
    settings: Settings,
    *,
    item_id: int,
    asset: Asset,
    page: ocr.PageResult,
    key: str,
    engine: str,
    image: tuple[str, str, int] | None,
) -> Page:
    """One short write per page. A page keeps its row and its number across re-runs: it is
    found by (master, page within the master); a new page takes the next number of the
    item (file order, then page order, as the masters are processed in order)."""
    lines = _page_lines(page)
    with session_scope(settings) as session:
        if image is not None:
            image_key, sha256, size = image
            img = session.exec(select(Asset).where(Asset.key == image_key)).first() or Asset(
                item_id=item_id, role=AssetRole.page_image, key=image_key, sha256="", source_asset_id=asset.id
            )
            img.sha256, img.size, img.media_type, img.sequence = sha256, size, "image/jpeg", page.page_no
            session.add(img)
        row = session.exec(
            select(Page).where(Page.asset_id == asset.id, Page.source_page == page.page_no)
        ).first()
        if row is None:
            last = session.exec(select(func.max(Page.page_no)).where(Page.item_id == item_id)).one()
            row = Page(
                item_id=item_id, asset_id=asset.id or 0, page_no=(last or 0) + 1, source_page=page.page_no
            )
        corrected = row.version > 0
        if corrected:
            session.flush()
            add_machine_reading(session, row, lines, engine=engine)
        else:
            row.text, row.lines = page.text, lines
            row.width, row.height, row.mean_conf = page.width, page.height, page.mean_conf
            row.rotation, row.skew = page.rotation, page.skew
        row.status, row.error, row.engine, row.method = page.status, page.error, engine, page.method
        # the regions the detector found and recognition did not read (screened as "unread")
        row.unread = [{"bbox": list(r.bbox), "score": r.score, "text": r.text} for r in page.unread]
        if image is not None:
            row.image_key = image[0]
        row.result_key = key
        session.add(row)
        session.flush()
        return row


@dataclass
class OcrStep:
    """The OCR of one master as planned before the master is fetched: the engine, its
    options and the result key they make with the master's checksum."""

    asset: Asset
    languages: str
    engine_name: str
    engine: ocr.OcrEngine
    version: str
    options: dict[str, Any]
    key: str
    workers: int


def plan_ocr(
    settings: Settings, item: Item, coll: Collection, asset: Asset, *, force: bool, outcome: ItemOutcome
) -> OcrStep | None:
    """What OCR of this master needs, or None when its pages are already done with the same
    engine, version and options (no download then). Marks the master as running, so a
    killed run is never taken for finished."""
    languages = item.ocr_languages or coll.ocr_languages or settings.ocr.languages
    engine_name = ocr.choose_engine(str(item.extra.get("ocr_engine") or settings.ocr.engine), languages)
    workers = settings.ocr.workers or os.cpu_count() or 1
    engine = ocr.make_engine(engine_name, workers=workers)
    version = engine.version()
    options = ocr.options(languages, settings.ocr.dpi, engine=engine_name)
    key = result_key(sha256=asset.sha256, engine=engine_name, version=version, **options)
    with session_scope(settings) as session:
        current = session.get(Asset, asset.id)
        assert current is not None
        marker = current.tech.get(OCR_DONE)
        keys = set(session.exec(select(Page.result_key).where(Page.asset_id == asset.id)).all())
        # a catalog from before the marker wrote each master's pages in one transaction
        done = marker == key or (marker is None and keys == {key})
        if done and not force:
            outcome.skipped = True
            return None
        current.tech = {**current.tech, OCR_DONE: ""}  # running: a killed run is not "done"
        session.add(current)
    return OcrStep(asset, languages, engine_name, engine, version, options, key, workers)


def run_ocr(
    settings: Settings, store: ObjectStore, item: Item, step: OcrStep, work: Path, *, outcome: ItemOutcome
) -> None:
    """OCR the fetched master page by page, outside any transaction: each page's row and
    image are written in a short transaction as it finishes, so a long PDF streams through
    in bounded memory and editors keep saving meanwhile. Pages are updated in place: their
    numbers, the editors' corrections and what refers to them stay."""
    began = time.monotonic()
    asset, languages, engine_name, engine = step.asset, step.languages, step.engine_name, step.engine
    version, options, key, workers = step.version, step.options, step.key, step.workers
    workdir = work.parent / "ocr"
    workdir.mkdir(parents=True, exist_ok=True)
    parts: list[Path] = []
    failed: list[dict[str, Any]] = []
    count = 0
    engine_label = ocr.REGISTRY[engine_name].label(version)
    with ocr.HocrWriter(workdir / "item.hocr") as hocr:
        for page in ocr.ocr_pages(
            work,
            kind="pdf" if asset.media_type == "application/pdf" else "image",
            languages=languages,
            workdir=workdir,
            dpi=settings.ocr.dpi,
            page_timeout=settings.ocr.page_timeout,
            workers=workers,
            engine=engine,
        ):
            count += 1
            image = None
            if page.image is not None and page.image.exists():
                image_key = derivative_key(asset.sha256, f"pages/{page.page_no:05d}.jpg")
                info = store.put_file(image_key, page.image, content_type="image/jpeg")
                image = (image_key, info.sha256 or "", info.size)
                page.image.unlink()
            _write_page(
                settings,
                item_id=item.id or 0,
                asset=asset,
                page=page,
                key=key,
                engine=engine_label if page.method == "ocr" else "pdf text layer",
                image=image,
            )
            hocr.add(page)
            if page.hocr is not None:
                page.hocr.unlink(missing_ok=True)
            if page.pdf is not None:
                parts.append(page.pdf)
            if page.status == "failed":
                failed.append({"page": page.page_no, "reason": page.error})
            if not outcome.excerpt and page.text.strip():
                outcome.excerpt = page.text
            report("ocr", item_id=item.id, page=page.page_no)
            publish_progress(store, item.id or 0, {"stage": "ocr", "pages_done": page.page_no})
    if hocr.count:
        store_derivative(
            settings,
            store,
            source=asset,
            role=AssetRole.hocr,
            path=hocr.path,
            name="ocr.hocr",
            media_type="text/vnd.hocr+html",
        )
    if parts:
        pdf = ocr.merge_pdfs(parts, workdir / "searchable.pdf")
        store_derivative(
            settings,
            store,
            source=asset,
            role=AssetRole.pdf,
            path=pdf,
            name="searchable.pdf",
            media_type="application/pdf",
        )
    with session_scope(settings) as session:
        # pages this master no longer has (none for the same file, kept if corrected)
        session.exec(
            delete(Page).where(
                col(Page.asset_id) == asset.id, col(Page.source_page) > count, col(Page.version) == 0
            )
        )
        current = session.get(Asset, asset.id)
        assert current is not None
        current.tech = {**current.tech, OCR_DONE: key}
        session.add(current)
        crud.add_event(
            session,
            type=EventType.ocr,
            item_id=item.id,
            asset_id=asset.id,
            outcome="warning" if failed else "success",
            engine=engine_name,
            version=version,
            options=options,
            pages=count,
            failed_pages=failed,
            seconds=round(time.monotonic() - began, 2),
        )
    outcome.pages += count
    if failed:
        outcome.reason += f"{len(failed)} of {count} pages failed; "
