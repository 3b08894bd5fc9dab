"""The one table of an item's description fields (DA/T 18-2022 著录, DA/T 59-2017 口述史料),
from which everything else that names a field is derived: the manifest headers, the fields
editors may change and how each is checked, the fields the public may see, the fields
screening reads, the labels of OAI-PMH, IIIF and the web, and the fields search indexes as
description.

The rule the table exists for: every field the public can see is screened. ``SCREENED``
holds every text field of the table (public or not) and the stored file names, so a new
public field cannot be left out of screening; ``tests/catalog/test_fields.py`` checks that
every field a public view, OAI record, IIIF manifest or facet shows is in it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DescriptionField:
    name: str  # the Item attribute
    zh: str  # the DA/T label: manifest header, OAI/IIIF label, web label
    en: str  # the English web label
    public: bool  # shown on the public site, in OAI-PMH, IIIF and the public facets (masked)
    check: str = "text"  # text | refcode | date | retention | generation | language
    aliases: tuple[str, ...] = ()  # manifest headers besides ``zh`` and ``name``
    multiline: bool = False  # tabs and line breaks allowed
    searched: bool = True  # indexed as the item's description (the title is indexed apart)
    editable: bool = True


FIELDS: tuple[DescriptionField, ...] = (
    DescriptionField("reference_code", "档号", "Reference code", True, "refcode"),
    DescriptionField("title", "题名", "Title", True, searched=False),
    DescriptionField("creator", "责任者", "Creator", True),
    DescriptionField("date", "日期", "Date", True, "date", searched=False),
    DescriptionField("place", "地点", "Place", True),
    DescriptionField("people", "人名", "People", True),
    DescriptionField("language", "语言", "Language", True, "language", searched=False),
    DescriptionField("subject", "主题词", "Subject", True, aliases=("关键词",)),
    DescriptionField("abstract", "范围和提要", "Scope and content", True, multiline=True),
    DescriptionField("extent", "载体形态", "Extent", True, aliases=("数量",), searched=False),
    DescriptionField("generation", "生成方式", "Generation", False, "generation", searched=False),
    DescriptionField("retention", "保管期限", "Retention", False, "retention", searched=False),
    DescriptionField("classification", "密级", "Classification", False, searched=False),
    DescriptionField("notes", "附注", "Notes", False, aliases=("备注",), multiline=True),
    DescriptionField("narrator", "口述者", "Narrator", True),
    DescriptionField("interviewer", "采集者", "Interviewer", True),
    DescriptionField("collected_at", "采集时间", "Collected on", True, "date", searched=False),
    DescriptionField("collected_place", "采集地点", "Collected at", True, searched=False),
    DescriptionField("consent", "授权", "Consent", False, searched=False),
)
BY_NAME = {f.name: f for f in FIELDS}

PUBLIC: tuple[str, ...] = tuple(f.name for f in FIELDS if f.public)
EDITABLE: tuple[str, ...] = tuple(f.name for f in FIELDS if f.editable)
# every text an item's description holds, and the names of its stored files
SCREENED: tuple[str, ...] = (*(f.name for f in FIELDS), "source_name")
# indexed as the item's description, besides the title (staff search; the public index
# holds the masked public ones only)
SEARCHED: tuple[str, ...] = (*(f.name for f in FIELDS if f.searched), "source_name")
LABELS_ZH: dict[str, str] = {f.name: f.zh for f in FIELDS}

# manifest columns that are not description fields
_OTHER_HEADERS = {
    "file": ("文件名", "文件", "file", "filename", "path"),
    "item": ("件号", "item"),
    "access": ("开放标识", "access"),
    "ocr_languages": ("ocr语言", "ocr_languages"),
    "ocr_engine": ("ocr引擎", "ocr_engine"),
}
MANIFEST_HEADERS: dict[str, str] = {
    **{alias.lower(): f.name for f in FIELDS for alias in (f.zh, f.name, *f.aliases)},
    **{alias: name for name, aliases in _OTHER_HEADERS.items() for alias in aliases},
}
