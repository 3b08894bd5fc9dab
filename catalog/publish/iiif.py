"""IIIF Presentation 3.0 manifests of items, through the one access policy.

A scan's pages are canvases painted with the page image (an IIIF Image API 3.0 service,
web/routes/iiif.py) and carrying the OCR lines as ``supplementing`` text annotations on
their boxes; a recording's parts are canvases with a duration, painted with the access
copy, carrying the transcript segments as ``supplementing`` annotations on their time
spans. The public gets exactly what the public pages show: open items, the redacted page
images and audio, masked text and the public description fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from catalog import fields
from catalog.models import Asset, AssetRole, Item, Page
from catalog.parts import recording_parts, segments_of
from catalog.publish import iiif_search
from catalog.review.access import PUBLIC_FIELDS, masks_text, public_description
from catalog.review.redaction import mask_lines, mask_text, masks_for, public_media_asset

PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
LABELS = {name: fields.LABELS_ZH[name] for name in fields.PUBLIC}


@dataclass
class Links:
    manifest: str  # this manifest's URL
    image_service: Callable[[int], str]  # page id → its Image API base URI
    media: Callable[[str], str]  # object key → a URL the viewer may fetch
    homepage: str  # the item's page
    search: tuple[str, str] | None = None  # the Content Search services (2.0, 1.0) within the item


def _lang(text: str) -> dict[str, list[str]]:
    return {"zh": [text]} if text else {"none": [""]}


def manifest(session: Session, item: Item, role: str | None, links: Links) -> dict[str, Any]:
    masked = masks_text(role)
    masks = masks_for(session, item.id or 0)
    if masked:
        desc = public_description(item, masks)
    else:
        desc = {f: str(getattr(item, f) or "") for f in PUBLIC_FIELDS}
    base = links.manifest
    canvases: list[dict[str, Any]] = []
    pages = session.exec(select(Page).where(Page.item_id == item.id).order_by(col(Page.page_no))).all()
    for page in pages:
        if not page.image_key or not page.width or not page.height:
            continue
        canvas_id = f"{base}/canvas/p{page.page_no}"
        service = links.image_service(page.id or 0)
        texts = (
            mask_lines(page.lines, masks.values)
            if masked
            else [str(line.get("text", "")) for line in page.lines]
        )
        annotations = []
        for n, (line, text) in enumerate(zip(page.lines, texts, strict=False), 1):
            box = line.get("bbox") or [0, 0, 0, 0]
            x0, y0, x1, y1 = (int(v) for v in box)
            if not text.strip() or x1 <= x0 or y1 <= y0:
                continue
            annotations.append(
                {
                    "id": f"{canvas_id}/line/{n}",
                    "type": "Annotation",
                    "motivation": "supplementing",
                    "body": {"type": "TextualBody", "value": text, "format": "text/plain", "language": "zh"},
                    "target": f"{canvas_id}#xywh={x0},{y0},{x1 - x0},{y1 - y0}",
                }
            )
        canvases.append(
            {
                "id": canvas_id,
                "type": "Canvas",
                "label": {"none": [f"第 {page.page_no} 页"]},
                "width": page.width,
                "height": page.height,
                "items": [
                    {
                        "id": f"{canvas_id}/painting",
                        "type": "AnnotationPage",
                        "items": [
                            {
                                "id": f"{canvas_id}/painting/image",
                                "type": "Annotation",
                                "motivation": "painting",
                                "body": {
                                    "id": f"{service}/full/max/0/default.jpg",
                                    "type": "Image",
                                    "format": "image/jpeg",
                                    "width": page.width,
                                    "height": page.height,
                                    "service": [
                                        {"id": service, "type": "ImageService3", "profile": "level1"}
                                    ],
                                },
                                "target": canvas_id,
                            }
                        ],
                    }
                ],
                "annotations": [{"id": f"{canvas_id}/text", "type": "AnnotationPage", "items": annotations}]
                if annotations
                else [],
            }
        )
    for part in recording_parts(session, item.id or 0):
        media, ready = public_media_asset(session, part.transcript, masks) if masked else (None, True)
        key = media.key if media is not None and ready else ""
        if not masked:
            access = session.exec(
                select(Asset).where(Asset.source_asset_id == part.asset_id, Asset.role == AssetRole.access)
            ).first()
            key = access.key if access else ""
            media = access
        duration = float(part.transcript.duration or 0)
        if not key or duration <= 0:
            continue
        canvas_id = f"{base}/canvas/a{part.number}"
        segments = segments_of(session, part)
        annotations = [
            {
                "id": f"{canvas_id}/segment/{seg.seq}",
                "type": "Annotation",
                "motivation": "supplementing",
                "body": {
                    "type": "TextualBody",
                    "value": mask_text(seg.text, masks.values) if masked else seg.text,
                    "format": "text/plain",
                    "language": "zh",
                },
                "target": f"{canvas_id}#t={seg.start:.2f},{seg.end:.2f}",
            }
            for seg in segments
            if seg.text.strip() and seg.end > seg.start
        ]
        media_type = media.media_type if media is not None else "audio/mp4"
        canvases.append(
            {
                "id": canvas_id,
                "type": "Canvas",
                "label": {"none": [f"第 {part.number} 部分"]},
                "duration": round(duration, 3),
                "items": [
                    {
                        "id": f"{canvas_id}/painting",
                        "type": "AnnotationPage",
                        "items": [
                            {
                                "id": f"{canvas_id}/painting/audio",
                                "type": "Annotation",
                                "motivation": "painting",
                                "body": {
                                    "id": links.media(key),
                                    "type": "Video" if media_type.startswith("video") else "Sound",
                                    "format": media_type,
                                    "duration": round(duration, 3),
                                },
                                "target": canvas_id,
                            }
                        ],
                    }
                ],
                "annotations": [
                    {"id": f"{canvas_id}/transcript", "type": "AnnotationPage", "items": annotations}
                ]
                if annotations
                else [],
            }
        )
    made = {
        "@context": PRESENTATION_CONTEXT,
        "id": base,
        "type": "Manifest",
        "label": _lang(desc.get("title", "") or item.reference_code),
        "summary": _lang(desc.get("abstract", "")) if desc.get("abstract") else None,
        "metadata": [
            {"label": {"zh": [LABELS[f]]}, "value": {"zh": [desc[f]]}}
            for f in PUBLIC_FIELDS
            if f in LABELS and desc.get(f)
        ],
        "requiredStatement": {"label": {"zh": ["开放标识"]}, "value": {"zh": [str(item.access)]}},
        "homepage": [
            {"id": links.homepage, "type": "Text", "label": {"zh": ["档案页面"]}, "format": "text/html"}
        ],
        "items": canvases,
        "service": iiif_search.services(*links.search) if links.search else None,
    }
    return {k: v for k, v in made.items() if v is not None}
