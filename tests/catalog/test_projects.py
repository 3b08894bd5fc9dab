"""Compilation projects on SQLite and PostgreSQL: excerpts, citations, order, updates after
corrections, and the DOCX and Markdown drafts."""

from __future__ import annotations

import io

from docx import Document
from docx.oxml.ns import qn
from sqlmodel import Session, col, select

from catalog.models import Item, Segment
from catalog.projects import (
    accept_update,
    add_page_excerpt,
    add_segment_excerpt,
    create_project,
    excerpts,
    move_excerpt,
)
from catalog.projects.exports import to_docx, to_markdown
from catalog.review.editing import Editor, edit_segment


def _setup(session: Session) -> tuple[int, list[int], int]:
    project = create_project(
        session, title="一九五八年的水库：口述与档案", description="专题汇编", editor="ed"
    )
    segs = [s.id or 0 for s in session.exec(select(Segment).order_by(col(Segment.seq))).all()]
    scan = session.exec(select(Item).where(Item.reference_code == "J001-WS·2020·Y-001")).one()
    return project.id or 0, segs, scan.id or 0


def test_excerpts_citations_and_order(session: Session) -> None:
    pid, segs, scan = _setup(session)
    a = add_segment_excerpt(
        session, project_id=pid, editor="ed", segment_from=segs[0], segment_to=segs[1], heading="修水库的记忆"
    )
    b = add_page_excerpt(
        session, project_id=pid, editor="eve", item_id=scan, page_from=1, line_from=0, line_to=0
    )
    views = excerpts(session, pid, role="editor")
    assert [v.excerpt.id for v in views] == [a.id, b.id]
    talk = views[0]
    assert talk.text == "我们村在一九五八年修了水库\nthe dam was built by hand"
    assert (
        talk.citation.text()
        == "J001-LY·2020·Y-001，《口述 interview》，张三，2020年1月5日，00:00:02–00:00:07"
    )
    assert views[1].citation.where == "第 1 页" and views[1].text == "新建水庫大壩"
    move_excerpt(session, excerpt_id=b.id or 0, to=0, editor="ed")
    assert [v.excerpt.id for v in excerpts(session, pid, role="editor")] == [b.id, a.id]


def test_excerpt_follows_corrections(session: Session) -> None:
    pid, segs, _ = _setup(session)
    ex = add_segment_excerpt(session, project_id=pid, editor="ed", segment_from=segs[0])
    assert not excerpts(session, pid, role="editor")[0].updated
    edit_segment(
        session,
        segment_id=segs[0],
        version=0,
        editor=Editor("eve", "editor"),
        text="我们村在一九五八年修了大水库",
    )
    [view] = excerpts(session, pid, role="editor")
    assert view.updated and view.text.endswith("修了大水库") and view.excerpt.quoted.endswith("修了水库")
    accept_update(session, excerpt_id=ex.id or 0, editor="ed")
    assert not excerpts(session, pid, role="editor")[0].updated


def test_docx_and_markdown(session: Session) -> None:
    pid, segs, scan = _setup(session)
    add_segment_excerpt(
        session,
        project_id=pid,
        editor="ed",
        segment_from=segs[0],
        heading="修水库的记忆",
        notes="口述者回忆，注意与档案对照。",
    )
    add_page_excerpt(session, project_id=pid, editor="ed", item_id=scan, page_from=1)
    md = to_markdown(session, pid, role="editor")
    assert md.startswith("# 一九五八年的水库：口述与档案\n")
    assert "## 修水库的记忆" in md and "> 我们村在一九五八年修了水库" in md
    assert "（来源：J001-LY·2020·Y-001，《口述 interview》，张三，2020年1月5日，00:00:02–00:00:04）" in md
    assert "| 2 | J001-WS·2020·Y-001 | 水利档案 | 县水利局 | 1958年3月1日 | 第 1 页 |" in md
    doc = Document(io.BytesIO(to_docx(session, pid, role="editor")))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert (
        "修水库的记忆" in text
        and "我们村在一九五八年修了水库" in text
        and "（来源：J001-LY·2020·Y-001" in text
    )
    rfonts = doc.styles["Normal"].element.rPr.find(qn("w:rFonts"))
    assert rfonts.get(qn("w:eastAsia")) == "SimSun"
    table = doc.tables[0]
    assert [c.text for c in table.rows[0].cells] == ["序号", "档号", "题名", "口述者/责任者", "日期", "位置"]
    assert table.rows[2].cells[1].text == "J001-WS·2020·Y-001"
