"""A compilation project as a publication draft: DOCX (python-docx) and Markdown. The
excerpts in order with their headings and notes, a citation under each (档号, title,
narrator or creator, date, time range or pages), and a table of sources at the end. Chinese
text is written as is (full-width punctuation kept) with an East Asian font declared."""

from __future__ import annotations

import html
import io
import re

from sqlmodel import Session

from catalog.projects import ExcerptView, display_date, excerpts, get_project

EAST_ASIAN_FONT = "SimSun"  # 宋体: present in Chinese Word installs; LibreOffice substitutes a CJK serif
LATIN_FONT = "Times New Roman"
SOURCE_COLUMNS = ("序号", "档号", "题名", "口述者/责任者", "日期", "位置")


def _heading(view: ExcerptView, n: int) -> str:
    return view.excerpt.heading or f"{n}. {view.item.title}"


def _sources(views: list[ExcerptView]) -> list[tuple[str, ...]]:
    return [
        (
            str(n),
            v.citation.reference_code,
            v.citation.title,
            v.citation.who,
            display_date(v.citation.date),
            v.citation.where,
        )
        for n, v in enumerate(views, 1)
    ]


def _visible(session: Session, project_id: int, role: str | None) -> tuple[list[ExcerptView], str]:
    """The excerpts the viewer may see, and a note on those left out (controlled records)."""
    views = excerpts(session, project_id, role=role)
    shown = [v for v in views if not v.hidden]
    left_out = len(views) - len(shown)
    note = f"（另有 {left_out} 条摘录取自受控档案，您无权查看，未导出。）" if left_out else ""
    return shown, note


def md_escape(text: str, *, inline: bool = False) -> str:
    """Text for Markdown: no raw HTML (<, > and & as entities), no emphasis, code, links or
    table cells from the text, and no block syntax (heading, list, quote, fence, setext
    underline, indented code) at the start of any of its lines. ``inline`` text (a heading,
    a table cell) is one line: its line ends become spaces."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # Markdown's line ends, as one
    if inline:
        text = text.replace("\n", " ")
    out = html.escape(text, quote=False)
    out = re.sub(r"([\\`*_~\[\]|])", r"\\\1", out)
    out = re.sub(r"^[ \t]+", "", out, flags=re.MULTILINE)  # four spaces would open a code block
    out = re.sub(r"^([#+\-=])", r"\\\1", out, flags=re.MULTILINE)
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", out, flags=re.MULTILINE)


def to_markdown(session: Session, project_id: int, *, role: str | None) -> str:
    project = get_project(session, project_id)
    views, note = _visible(session, project_id, role)
    out = [f"# {md_escape(project.title, inline=True)}", ""]
    if project.description:
        out += [md_escape(project.description), ""]
    for n, v in enumerate(views, 1):
        out += [f"## {md_escape(_heading(v, n), inline=True)}", ""]
        if v.excerpt.notes:
            out += [f"*{md_escape(v.excerpt.notes)}*", ""]
        for line in v.text.splitlines():
            out += [f"> {md_escape(line)}" if line.strip() else ">"]
        out += ["", f"（来源：{md_escape(v.citation.text(), inline=True)}）", ""]
    if note:
        out += [note, ""]
    out += ["## 资料来源", "", "| " + " | ".join(SOURCE_COLUMNS) + " |", "|" + "---|" * len(SOURCE_COLUMNS)]
    for row in _sources(views):
        out.append("| " + " | ".join(md_escape(cell, inline=True) for cell in row) + " |")
    return "\n".join(out) + "\n"


def _fonts(style_or_run: object) -> None:
    """Declare the Latin and the East Asian font (Word keeps them apart: w:rFonts/@w:eastAsia)."""
    from docx.oxml.ns import qn

    font = style_or_run.font  # type: ignore[attr-defined]
    font.name = LATIN_FONT
    rpr = style_or_run.element.get_or_add_rPr()  # type: ignore[attr-defined]
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    rfonts.set(qn("w:eastAsia"), EAST_ASIAN_FONT)


def to_docx(session: Session, project_id: int, *, role: str | None) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    project = get_project(session, project_id)
    views, note = _visible(session, project_id, role)
    doc = Document()
    doc.core_properties.title = project.title
    doc.core_properties.author = project.editors.replace(",", "、")
    doc.core_properties.language = "zh-CN"
    for name in ("Normal", "Title", "Heading 1", "Heading 2", "Quote", "Caption"):
        try:
            _fonts(doc.styles[name])
        except KeyError:
            continue
    doc.styles["Normal"].font.size = Pt(12)
    doc.add_heading(project.title, level=0)
    if project.description:
        doc.add_paragraph(project.description)
    for n, v in enumerate(views, 1):
        doc.add_heading(_heading(v, n), level=1)
        if v.excerpt.notes:
            notes = doc.add_paragraph()
            run = notes.add_run(v.excerpt.notes)
            run.italic = True
        for line in v.text.splitlines():
            if line.strip():
                p = doc.add_paragraph(line)
                p.paragraph_format.first_line_indent = Pt(24)  # two characters, as Chinese prose is set
        cite = doc.add_paragraph(f"（来源：{v.citation.text()}）")
        cite.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        for run in cite.runs:
            run.font.size = Pt(10.5)
    if note:
        doc.add_paragraph(note)
    doc.add_heading("资料来源", level=1)
    rows = _sources(views)
    table = doc.add_table(rows=1 + len(rows), cols=len(SOURCE_COLUMNS))
    table.style = "Table Grid"
    for i, name in enumerate(SOURCE_COLUMNS):
        table.cell(0, i).text = name
    for r, row in enumerate(rows, 1):
        for i, value in enumerate(row):
            table.cell(r, i).text = value
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
