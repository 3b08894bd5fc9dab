"""Editors' changes to a record: transcript segments, OCR lines, description fields, item
status. Every change is a Revision (who, when, before/after); the machine's output is
revision 0 of its target and is never lost. Concurrent edits use optimistic locking: a
change names the version it was made on, and a stale version raises ``EditConflict``
with both texts rather than overwriting anyone's work."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from catalog import fields
from catalog.crud import add_event
from catalog.manifest import RETENTION, check_text, validate_date, validate_language
from catalog.models import (
    EventType,
    Excerpt,
    Flag,
    Item,
    ItemStatus,
    Page,
    Revision,
    Role,
    Segment,
    Transcript,
    utcnow,
)
from catalog.refcode import validate as validate_refcode
from catalog.search import ALL, IndexScope, description_part, page_part, reindex_item, segments_part
from configs.errors import BadInputError, LantaiError

MACHINE = "machine"


class EditConflict(LantaiError):
    """Someone saved the same text since this edit was started: nothing was overwritten."""

    exit_code = 8
    http_status = 409
    title_key = "conflict"

    def __init__(
        self, target: str, target_id: int, *, current: dict[str, Any], yours: dict[str, Any]
    ) -> None:
        super().__init__(
            f"{target} {target_id} was changed by someone else since you opened it",
            hint="compare both texts, then save again on top of the current one",
        )
        self.target, self.target_id, self.current, self.yours = target, target_id, current, yours

    def extra(self) -> dict[str, object]:
        return {"current": self.current, "yours": self.yours}


class EditLocked(LantaiError):
    """The item is approved: its text and description are locked."""

    exit_code = 8
    http_status = 423
    title_key = "locked"


class NotFound(LantaiError):
    """No such record (item, page, segment, flag, project, user)."""

    exit_code = 2
    http_status = 404
    title_key = "not_found"


@dataclass(frozen=True)
class Editor:
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin


# ---------------------------------------------------------------- revisions


def _segment_state(seg: Segment) -> dict[str, Any]:
    return {"text": seg.text, "start": seg.start, "end": seg.end, "speaker": seg.speaker}


def _machine_state(seg: Segment, before: dict[str, Any]) -> dict[str, Any]:
    """What the machine delivered for a segment, as revision 0: its text as first stored (in
    the collection's script, after OpenCC: restoring it never brings back the other script),
    times and speaker before the first edit; the engine's own raw output alongside, for
    reference."""
    state = {k: before[k] for k in ("text", "start", "end", "speaker")}
    if seg.raw_text and seg.raw_text != before["text"]:
        state["engine_text"] = seg.raw_text
    return state


def _line_state(line: dict[str, Any]) -> dict[str, Any]:
    return {"text": line.get("text", "")}


def _add_revision(
    session: Session,
    *,
    item_id: int,
    target: str,
    target_id: int,
    author: str,
    before: dict[str, Any],
    after: dict[str, Any],
    machine: dict[str, Any] | None = None,
) -> Revision:
    """Append a revision; the first change of a target first records the machine output
    (``machine``) as revision 0."""
    last = session.exec(
        select(Revision.number)
        .where(Revision.target == target, Revision.target_id == target_id)
        .order_by(col(Revision.number).desc())
    ).first()
    if last is None and machine is not None:
        session.add(
            Revision(
                item_id=item_id,
                target=target,
                target_id=target_id,
                number=0,
                author=MACHINE,
                before={},
                after=machine,
            )
        )
        last = 0
    rev = Revision(
        item_id=item_id,
        target=target,
        target_id=target_id,
        number=(last if last is not None else -1) + 1,
        author=author,
        before=before,
        after=after,
    )
    session.add(rev)
    return rev


def add_machine_reading(session: Session, page: Page, lines: list[dict[str, Any]], *, engine: str) -> None:
    """A re-read of a page editors have corrected: their lines stay, and the machine's new
    reading becomes a revision by the machine, to compare and restore like revision 0 —
    once per distinct reading."""
    after = {"lines": [_line_state(x) for x in lines], "engine": engine}
    history = session.exec(
        select(Revision)
        .where(Revision.target == "page", Revision.target_id == page.id)
        .order_by(col(Revision.number).desc())
    ).all()
    machine = next((r for r in history if r.author == MACHINE and "lines" in r.after), None)
    if machine is not None and machine.after["lines"] == after["lines"]:
        return
    number = history[0].number + 1 if history else 0
    session.add(
        Revision(
            item_id=page.item_id,
            target="page",
            target_id=page.id or 0,
            number=number,
            author=MACHINE,
            after=after,
        )
    )


def revisions(session: Session, *, item_id: int) -> list[Revision]:
    """An item's revisions, newest first."""
    return list(
        session.exec(
            select(Revision)
            .where(Revision.item_id == item_id)
            .order_by(col(Revision.at).desc(), col(Revision.id).desc())
        ).all()
    )


# ---------------------------------------------------------------- guards


def _editable_item(session: Session, item_id: int, editor: Editor) -> Item:
    item = session.get(Item, item_id)
    if item is None:
        raise NotFound(f"no item {item_id}")
    if item.status == ItemStatus.approved:
        raise EditLocked(
            f"item {item.reference_code} is approved and locked",
            hint="an administrator can reopen it for review",
        )
    if editor.role not in (Role.editor, Role.admin):
        raise EditLocked(f"the role {editor.role} cannot edit records")
    return item


def _touch(session: Session, item: Item, editor: Editor, what: str, part: IndexScope, **detail: Any) -> None:
    """After an edit, in the same transaction: the item is in review, the edited part is
    screened (a new hit is an open flag, so it is masked on the public site and the item is
    back in the open-review queue), the edited part of the index is current, and the edit
    is an event."""
    from catalog.review.screening import screen_edit

    if item.status == ItemStatus.enriched:
        item.status = ItemStatus.in_review
    item.updated_at = utcnow()
    session.add(item)
    session.flush()
    new = screen_edit(session, item, agent=editor.name)
    reindex_item(session, item, ALL if new else part)
    add_event(session, type=EventType.edit, item_id=item.id, agent=editor.name, target=what, **detail)


def _bump(session: Session, model: Any, row_id: int, version: int, **values: Any) -> bool:
    """Compare-and-set: write ``values`` and version+1 only if the row is still at ``version``."""
    result = session.execute(
        update(model)
        .where(model.id == row_id, model.version == version)
        .values(version=version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _segment(session: Session, segment_id: int) -> tuple[Segment, Transcript]:
    seg = session.get(Segment, segment_id)
    tr = session.get(Transcript, seg.transcript_id) if seg else None
    if seg is None or tr is None:
        raise NotFound(f"no segment {segment_id}")
    return seg, tr


# ---------------------------------------------------------------- segments


def edit_segment(
    session: Session,
    *,
    segment_id: int,
    version: int,
    editor: Editor,
    text: str | None = None,
    start: float | None = None,
    end: float | None = None,
    speaker: str | None = None,
) -> Segment:
    """Change a segment's text, times or speaker."""
    seg, tr = _segment(session, segment_id)
    item = _editable_item(session, tr.item_id, editor)
    before = _segment_state(seg)
    after = dict(before)
    if text is not None:
        after["text"] = text.strip()
    if speaker is not None:
        after["speaker"] = speaker.strip()[:64]
    if start is not None:
        after["start"] = round(float(start), 3)
    if end is not None:
        after["end"] = round(float(end), 3)
    if not 0 <= after["start"] < after["end"]:
        raise BadInputError(f"start {after['start']} must be at least 0 and before end {after['end']}")
    if tr.duration and after["end"] > tr.duration + 0.5:
        raise BadInputError(f"end {after['end']} is past the end of the recording ({tr.duration:.1f} s)")
    if seg.version != version or not _bump(session, Segment, segment_id, version, **after):
        session.refresh(seg)
        raise EditConflict(
            "segment", segment_id, current=_segment_state(seg) | {"version": seg.version}, yours=after
        )
    words = seg.words if after["text"] == before["text"] else []
    session.execute(update(Segment).where(col(Segment.id) == segment_id).values(words=words))
    _add_revision(
        session,
        item_id=item.id or 0,
        target="segment",
        target_id=segment_id,
        author=editor.name,
        before=before,
        after=after,
        machine=_machine_state(seg, before),
    )
    session.refresh(seg)
    _touch(session, item, editor, "segment", segments_part([segment_id]), segment_id=segment_id)
    return seg


def _renumber(session: Session, transcript_id: int) -> None:
    """Give a transcript's segments seq 0..n-1 in time order (two passes: seq is unique)."""
    segs = list(
        session.exec(
            select(Segment)
            .where(Segment.transcript_id == transcript_id)
            .order_by(col(Segment.start), col(Segment.seq))
        ).all()
    )
    for i, s in enumerate(segs):
        s.seq = -(i + 1)
        session.add(s)
    session.flush()
    for i, s in enumerate(segs):
        s.seq = i
        session.add(s)
    session.flush()


def _joiner(a: str, b: str) -> str:
    """Latin words are joined with a space, Chinese characters without."""
    return " " if re.search(r"[A-Za-z0-9]$", a) and re.search(r"^[A-Za-z0-9]", b) else ""


def split_segment(session: Session, *, segment_id: int, version: int, at: int, editor: Editor) -> Segment:
    """Split a segment before character ``at`` of its text. The split time comes from the
    word timestamps when they cover the text, else from the share of characters. Returns
    the new second segment."""
    seg, tr = _segment(session, segment_id)
    item = _editable_item(session, tr.item_id, editor)
    text = seg.text
    if not 0 < at < len(text) or not text[:at].strip() or not text[at:].strip():
        raise BadInputError("split inside the text: both parts need some text")
    if seg.version != version:
        raise EditConflict("segment", segment_id, current=_segment_state(seg), yours={"split_at": at})
    first_words: list[Any] = []
    second_words: list[Any] = []
    t: float | None = None
    consumed = 0
    for w in seg.words:
        word = str(w.get("word", ""))
        consumed += len(word.strip()) + (1 if word.startswith(" ") and consumed else 0)
        (first_words if consumed <= len(text[:at].strip()) else second_words).append(w)
    if first_words and second_words and "".join(str(w["word"]) for w in seg.words).strip() == text:
        t = float(second_words[0]["start"])
    if t is None or not seg.start < t < seg.end:
        t = seg.start + (seg.end - seg.start) * at / len(text)
        first_words = second_words = []
    before = _segment_state(seg)
    if not _bump(session, Segment, segment_id, version, text=text[:at].strip(), end=round(t, 3)):
        raise EditConflict("segment", segment_id, current=before, yours={"split_at": at})
    session.execute(update(Segment).where(col(Segment.id) == segment_id).values(words=first_words))
    session.refresh(seg)
    new = Segment(
        transcript_id=tr.id or 0,
        seq=-10_000_000 - (segment_id or 0),  # temporary; renumbered below
        start=round(t, 3),
        end=before["end"],
        text=text[at:].strip(),
        raw_text="",
        confidence=seg.confidence,
        speaker=seg.speaker,
        words=second_words,
    )
    session.add(new)
    session.flush()
    _renumber(session, tr.id or 0)
    machine = _machine_state(seg, before)
    _add_revision(
        session,
        item_id=item.id or 0,
        target="segment",
        target_id=segment_id,
        author=editor.name,
        before=before,
        after=_segment_state(seg) | {"action": "split", "new_segment": new.id},
        machine=machine,
    )
    _add_revision(
        session,
        item_id=item.id or 0,
        target="segment",
        target_id=new.id or 0,
        author=editor.name,
        before={},
        after=_segment_state(new) | {"action": "split", "from_segment": segment_id},
    )
    _touch(
        session,
        item,
        editor,
        "segment",
        segments_part([segment_id, new.id or 0]),
        action="split",
        segment_id=segment_id,
        new_segment=new.id,
    )
    return new


def merge_with_next(
    session: Session, *, segment_id: int, version: int, next_version: int, editor: Editor
) -> Segment:
    """Join a segment with the one after it; flags and excerpts on the second move to the first."""
    seg, tr = _segment(session, segment_id)
    item = _editable_item(session, tr.item_id, editor)
    nxt = session.exec(
        select(Segment).where(Segment.transcript_id == tr.id, Segment.seq == seg.seq + 1)
    ).first()
    if nxt is None:
        raise BadInputError("this is the last segment: nothing to merge with")
    if seg.version != version or nxt.version != next_version:
        raise EditConflict(
            "segment",
            segment_id,
            current=_segment_state(seg) | {"next": _segment_state(nxt)},
            yours={"merge_with": nxt.id},
        )
    before, gone = _segment_state(seg), _segment_state(nxt)
    text = seg.text + _joiner(seg.text, nxt.text) + nxt.text
    if not _bump(session, Segment, segment_id, version, text=text, end=nxt.end):
        raise EditConflict("segment", segment_id, current=before, yours={"merge_with": nxt.id})
    words = [*seg.words, *nxt.words] if seg.words and nxt.words else []
    session.execute(update(Segment).where(col(Segment.id) == segment_id).values(words=words))
    for flag in session.exec(select(Flag).where(Flag.segment_id == nxt.id)).all():
        flag.segment_id = segment_id
        session.add(flag)
    for ex in session.exec(select(Excerpt).where(Excerpt.segment_from == nxt.id)).all():
        ex.segment_from = segment_id
        session.add(ex)
    for ex in session.exec(select(Excerpt).where(Excerpt.segment_to == nxt.id)).all():
        ex.segment_to = segment_id
        session.add(ex)
    machine_next = _machine_state(nxt, gone)
    _add_revision(
        session,
        item_id=item.id or 0,
        target="segment",
        target_id=nxt.id or 0,
        author=editor.name,
        before=gone,
        after={"action": "merged", "into_segment": segment_id},
        machine=machine_next,
    )
    gone_id = nxt.id or 0
    session.delete(nxt)
    session.flush()
    _renumber(session, tr.id or 0)
    session.refresh(seg)
    _add_revision(
        session,
        item_id=item.id or 0,
        target="segment",
        target_id=segment_id,
        author=editor.name,
        before=before,
        after=_segment_state(seg) | {"action": "merge", "merged_segment": gone},
        machine=_machine_state(seg, before),
    )
    _touch(
        session,
        item,
        editor,
        "segment",
        segments_part([segment_id, gone_id]),
        action="merge",
        segment_id=segment_id,
    )
    return seg


def rename_speaker(session: Session, *, transcript_id: int, old: str, new: str, editor: Editor) -> int:
    """Rename a speaker on every segment of a transcript (``old`` may be empty: unlabelled
    segments). Each changed segment gets a revision. Returns how many changed."""
    tr = session.get(Transcript, transcript_id)
    if tr is None:
        raise NotFound(f"no transcript {transcript_id}")
    item = _editable_item(session, tr.item_id, editor)
    new = new.strip()[:64]
    if not new:
        raise BadInputError("the new speaker name is empty")
    segs = session.exec(
        select(Segment).where(Segment.transcript_id == transcript_id, Segment.speaker == old)
    ).all()
    for seg in segs:
        before = _segment_state(seg)
        seg.speaker = new
        seg.version += 1
        session.add(seg)
        _add_revision(
            session,
            item_id=item.id or 0,
            target="segment",
            target_id=seg.id or 0,
            author=editor.name,
            before=before,
            after=_segment_state(seg),
            machine=_machine_state(seg, before),
        )
    if segs:
        _touch(
            session,
            item,
            editor,
            "speaker",
            IndexScope(meta=False, pages=False, segments=False),  # speakers are not indexed
            transcript_id=transcript_id,
            old=old,
            new=new,
            segments=len(segs),
        )
    return len(segs)


# ---------------------------------------------------------------- pages


def edit_page_line(
    session: Session, *, page_id: int, line: int, base: str, version: int, text: str, editor: Editor
) -> Page:
    """Correct one OCR line. ``base`` is the line's text as the editor saw it, ``version``
    the page version: edits of other lines in between are fine, a change of this line is
    a conflict."""
    page = session.get(Page, page_id)
    if page is None:
        raise NotFound(f"no page {page_id}")
    item = _editable_item(session, page.item_id, editor)
    if not 0 <= line < len(page.lines):
        raise BadInputError(f"page {page.page_no} has no line {line}")
    text = text.strip()
    for _attempt in range(3):
        session.refresh(page)
        current = page.lines[line]
        if page.version != version and current.get("text", "") != base:
            raise EditConflict(
                "line",
                page_id,
                current={"text": current.get("text", ""), "version": page.version, "line": line},
                yours={"text": text, "line": line},
            )
        lines = [dict(x) for x in page.lines]
        lines[line] = current | {
            "text": text,
            "edited": True,
            "words": [] if text != base else current.get("words", []),
        }
        body = "\n".join(x.get("text", "") for x in lines)
        if _bump(session, Page, page_id, page.version, lines=lines, text=body):
            break
    else:
        raise EditConflict(
            "line", page_id, current={"text": page.lines[line].get("text", "")}, yours={"text": text}
        )
    machine_rev = session.exec(
        select(Revision).where(Revision.target == "page", Revision.target_id == page_id, Revision.number == 0)
    ).first()
    _add_revision(
        session,
        item_id=item.id or 0,
        target="page",
        target_id=page_id,
        author=editor.name,
        before={"line": line, "text": current.get("text", "")},
        after={"line": line, "text": text},
        # revision 0 of a page keeps every machine line, so any line can be restored
        machine=None if machine_rev else {"lines": [_line_state(x) for x in page.lines]},
    )
    session.refresh(page)
    _touch(session, item, editor, "page", page_part(page.page_no), page_no=page.page_no, line=line)
    return page


# ---------------------------------------------------------------- description and status

EDITABLE_FIELDS = fields.EDITABLE
GENERATIONS = ("原生", "数字化")


def validate_description(values: dict[str, str]) -> dict[str, str]:
    """Clean and check description fields (DA/T 18 / DA/T 59); raises BadInputError naming
    the field."""
    out: dict[str, str] = {}
    for name, raw in values.items():
        if name not in EDITABLE_FIELDS:
            raise BadInputError(f"{name} is not an editable description field")
        value = check_text(name, str(raw).strip())
        check = fields.BY_NAME[name].check
        if check == "refcode":
            value = validate_refcode(value)
        elif check == "date" and value:
            value = validate_date(value, label=fields.BY_NAME[name].zh)
        elif check == "language" and value:
            value = validate_language(value)
        elif name == "retention":
            value = RETENTION.get(value, value)
            if value not in ("Y", "D30", "D10"):
                raise BadInputError(f"保管期限 {raw!r} is not Y, D30 or D10")
        elif name == "generation" and value not in GENERATIONS:
            raise BadInputError(f"生成方式 {raw!r} is not 原生 or 数字化")
        elif name == "title" and not value:
            raise BadInputError("题名 (title) cannot be empty")
        out[name] = value
    return out


def update_description(
    session: Session, *, item_id: int, version: int, fields: dict[str, str], editor: Editor
) -> Item:
    item = _editable_item(session, item_id, editor)
    clean = validate_description(fields)
    before = {k: getattr(item, k) for k in clean}
    changed = {k: v for k, v in clean.items() if before[k] != v}
    if not changed:
        return item
    if "reference_code" in changed:
        other = session.exec(
            select(Item.id).where(Item.reference_code == changed["reference_code"], Item.id != item_id)
        ).first()
        if other is not None:
            raise BadInputError(f"档号 {changed['reference_code']} is already used by item {other}")
    if item.version != version or not _bump(session, Item, item_id, version, **changed):
        session.refresh(item)
        raise EditConflict(
            "item",
            item_id,
            current={k: getattr(item, k) for k in changed} | {"version": item.version},
            yours=changed,
        )
    _add_revision(
        session,
        item_id=item_id,
        target="item",
        target_id=item_id,
        author=editor.name,
        before={k: before[k] for k in changed},
        after=changed,
    )
    session.refresh(item)
    _touch(session, item, editor, "description", description_part(), fields=sorted(changed))
    return item


TRANSITIONS = {
    # action: (from statuses, to status, roles)
    "review": ((ItemStatus.enriched,), ItemStatus.in_review, (Role.editor, Role.admin)),
    "approve": ((ItemStatus.enriched, ItemStatus.in_review), ItemStatus.approved, (Role.editor, Role.admin)),
    "reopen": ((ItemStatus.approved,), ItemStatus.in_review, (Role.admin,)),
}


def set_status(session: Session, *, item_id: int, action: str, editor: Editor, reason: str = "") -> Item:
    """machine (enriched) → in review → approved; only an admin reopens an approved item."""
    if action not in TRANSITIONS:
        raise BadInputError(f"unknown action {action!r}")
    sources, target, roles = TRANSITIONS[action]
    item = session.get(Item, item_id)
    if item is None:
        raise NotFound(f"no item {item_id}")
    if editor.role not in roles:
        raise EditLocked(f"the role {editor.role} cannot {action} items")
    if item.status not in sources:
        raise BadInputError(
            f"item {item.reference_code} is {item.status}; {action} needs {', '.join(sources)}"
        )
    old = item.status
    item.status = target
    item.version += 1
    session.add(item)
    _add_revision(
        session,
        item_id=item_id,
        target="status",
        target_id=item_id,
        author=editor.name,
        before={"status": old},
        after={"status": target} | ({"reason": reason} if reason else {}),
    )
    add_event(
        session,
        type=EventType.approval if action == "approve" else EventType.status_change,
        item_id=item_id,
        agent=editor.name,
        before=old,
        after=target,
        reason=reason,
    )
    return item


# ---------------------------------------------------------------- restore


def restore_revision(session: Session, *, revision_id: int, editor: Editor) -> Revision:
    """Make an earlier state current again, as a new revision (history only grows)."""
    rev = session.get(Revision, revision_id)
    if rev is None:
        raise NotFound(f"no revision {revision_id}")
    state = rev.after
    if rev.target == "segment":
        seg = session.get(Segment, rev.target_id)
        if seg is None or "text" not in state:
            raise BadInputError("this revision cannot be restored (its segment was merged or split away)")
        edit_segment(
            session,
            segment_id=rev.target_id,
            version=seg.version,
            editor=editor,
            text=state["text"],
            start=state.get("start"),
            end=state.get("end"),
            speaker=state.get("speaker"),
        )
    elif rev.target == "page":
        page = session.get(Page, rev.target_id)
        if page is None:
            raise NotFound(f"no page {rev.target_id}")
        if "lines" in state:  # revision 0: every machine line
            changes = [(i, x["text"]) for i, x in enumerate(state["lines"]) if i < len(page.lines)]
        else:
            changes = [(int(state["line"]), str(state["text"]))]
        for i, text in changes:
            if page.lines[i].get("text", "") != text:
                page = edit_page_line(
                    session,
                    page_id=page.id or 0,
                    line=i,
                    base=page.lines[i].get("text", ""),
                    version=page.version,
                    text=text,
                    editor=editor,
                )
    elif rev.target == "item":
        item = session.get(Item, rev.target_id)
        if item is None:
            raise NotFound(f"no item {rev.target_id}")
        update_description(session, item_id=item.id or 0, version=item.version, fields=state, editor=editor)
    else:
        raise BadInputError(f"{rev.target} revisions are not restored; use the status buttons")
    add_event(
        session, type=EventType.edit, item_id=rev.item_id, agent=editor.name, restored_revision=revision_id
    )
    latest = session.exec(
        select(Revision)
        .where(Revision.target == rev.target, Revision.target_id == rev.target_id)
        .order_by(col(Revision.number).desc())
    ).first()
    return latest or rev
