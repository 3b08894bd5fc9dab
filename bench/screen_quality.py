"""Precision and recall of the screening detectors (tasks/screen.py) on the planted-PII
corpus in tests/resources/screening.json, against a naive baseline measured in the same run
(plain regular expressions: no checksums, no tolerance for spaces OCR inserts, no
traditional-script matching).

    .venv/bin/python bench/screen_quality.py
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from configs.settings import ScreeningSettings
from tasks import screen

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "resources" / "screening.json"
NAIVE = {
    "id_number": re.compile(r"\d{17}[\dXx]"),
    "mobile": re.compile(r"1[3-9]\d{9}"),
    "bank_card": re.compile(r"\d{16,19}"),
    "email": re.compile(r"\S+@\S+\.\w+"),
    "landline": re.compile(r"0\d{2,3}-\d{7,8}"),
}


def _norm(v: str) -> str:
    return re.sub(r"\s", "", v).translate({0xFF10 + i: 0x30 + i for i in range(10)})


def lantai(text: str, lists: list[screen.TermList]) -> set[tuple[str, str]]:
    return {(h.category, _norm(h.value)) for h in screen.screen_text(text, lists)}


def naive(text: str, lists: list[screen.TermList]) -> set[tuple[str, str]]:
    found = {(cat, m.group()) for cat, rx in NAIVE.items() for m in rx.finditer(text)}
    found |= {(tl.category, t) for tl in lists for t in tl.terms if t in text}
    return found


def score(detector, cases, lists) -> tuple[Counter[str], Counter[str], Counter[str]]:  # type: ignore[no-untyped-def]
    tp, fp, fn = Counter[str](), Counter[str](), Counter[str]()
    for case in cases:
        want = {(c, _norm(v)) for c, v in case["expect"]}
        got = detector(case["text"], lists)
        kind = lambda c: "pii" if c in NAIVE or c.startswith(("id_", "passport")) else "term"  # noqa: E731
        for c, _ in got & want:
            tp[kind(c)] += 1
        for c, _ in got - want:
            fp[kind(c)] += 1
        for c, _ in want - got:
            fn[kind(c)] += 1
    return tp, fp, fn


def main() -> None:
    cases = json.loads(CORPUS.read_text(encoding="utf-8"))["cases"]
    lists = screen.load_term_lists(ScreeningSettings().terms_path)
    print(f"corpus: {len(cases)} texts, {sum(len(c['expect']) for c in cases)} planted hits")
    print(f"{'detector':10} {'group':5} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>9} {'recall':>7}")
    results = {}
    for name, det in (("naive", naive), ("lantai", lantai)):
        tp, fp, fn = score(det, cases, lists)
        for group in ("pii", "term", "all"):
            t = sum(tp.values()) if group == "all" else tp[group]
            f = sum(fp.values()) if group == "all" else fp[group]
            n = sum(fn.values()) if group == "all" else fn[group]
            p, r = t / (t + f) if t + f else 1.0, t / (t + n) if t + n else 1.0
            results[(name, group)] = (p, r)
            print(f"{name:10} {group:5} {t:4} {f:4} {n:4} {p:9.3f} {r:7.3f}")
    (bp, br), (lp, lr) = results[("naive", "all")], results[("lantai", "all")]
    print(f"ratio lantai/naive: precision ×{lp / bp:.2f}, recall ×{lr / br:.2f}")


if __name__ == "__main__":
    main()
