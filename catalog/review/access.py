"""The one access policy: for (viewer, item), does the item exist for the viewer, and which
of its text, media and description fields may they see. Every route, export, search
audience, facet and object link asks here; nothing else decides.

Viewers are the roles of signed-in staff and ``PUBLIC``, a visitor of the public site:

- public: open (开放) items; text masked (every screening hit not dismissed is █);
  only ``PUBLIC_FIELDS`` of the description, masked; redacted images and audio.
- collector: open items, as recorded, every field.
- editor, operator, admin: every item, as recorded, every field.

An item not visible to a viewer answers exactly as an item that does not exist would
(404 for the public; staff get 403 naming the reason, since they know the catalog).
"""

from __future__ import annotations

from typing import Any

from catalog import fields
from catalog.models import Access, Item, Role
from catalog.review.redaction import Masks, mask_text

PUBLIC = "public"
STAFF_ROLES = (Role.collector, Role.editor, Role.operator, Role.admin)
RESTRICTED_ROLES = (Role.editor, Role.operator, Role.admin)  # see items that are not open
# The description fields the public site shows (masked; catalog.fields marks them): never
# notes (附注), file names, classification, retention, consent or the workflow's own fields.
PUBLIC_FIELDS = fields.PUBLIC


def sees_restricted(role: str | None) -> bool:
    """Staff who may see items that are not open (开放标识 ≠ 开放)."""
    return role in RESTRICTED_ROLES


def may_see(role: str | None, item: Item) -> bool:
    """Whether ``item`` exists for this viewer (``role`` None or ``PUBLIC``: the public)."""
    if sees_restricted(role):
        return True
    return item.access == Access.open


def masks_text(role: str | None) -> bool:
    """Whether this viewer sees text with the screening hits masked."""
    return role not in STAFF_ROLES


def may_read_copy_requests(role: str | None) -> bool:
    """Copy requests hold members of the public's names and contacts: editors and admins
    handle them; nobody else reads them."""
    return role in (Role.editor, Role.admin)


def public_description(item: Item, masks: Masks) -> dict[str, str]:
    """The allow-listed description of an open item, every screening value masked."""
    return {f: mask_text(str(getattr(item, f) or ""), masks.values) for f in PUBLIC_FIELDS}


def public_text(text: str, masks: Masks) -> str:
    """Any other text of an open item shown to the public (a speaker's name), masked."""
    return mask_text(text, masks.values)


def excerpt_placeholder() -> dict[str, Any]:
    """What a compilation project shows for an excerpt of an item the viewer may not see."""
    return {"hidden": True, "text": "受控档案，无权查看", "text_en": "controlled record: you may not see it"}
