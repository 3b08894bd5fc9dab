"""The command line as a user runs it: real processes, a fresh home, the shipped samples."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from tests.conftest import MODELS, SAMPLES

pytestmark = pytest.mark.slow  # the fast tier: bash scripts/test -m "not slow"


def lantai(
    *args: str, home: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("LANTAI_", "PREFECT_"))}
    full_env.update({"LANTAI_HOME": str(home), "LANTAI_MODELS_DIR": str(MODELS), "COLUMNS": "200"})
    full_env.update(env or {})
    done = subprocess.run(
        [sys.executable, "-m", "lantai", *args], capture_output=True, text=True, env=full_env, timeout=600
    )
    if check and done.returncode != 0:
        pytest.fail(f"lantai {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home where `lantai demo` has run twice."""
    home = tmp_path_factory.mktemp("demo") / "home"
    first = lantai("demo", home=home)
    assert "7 new items" in first.stdout
    second = lantai("demo", home=home)
    assert "0 new items, 0 files added to items, 7 duplicates, 0 quarantined" in second.stdout
    assert "nothing to enrich" in second.stdout
    pytest.demo_output = first.stdout  # type: ignore[attr-defined]
    return home


def test_demo_prints_recognised_chinese_and_english(demo_home: Path) -> None:
    output = pytest.demo_output  # type: ignore[attr-defined]
    assert "网络支付并无本质的区别" in output  # OCR of a Chinese scan
    assert "繁體中文測試" in output  # traditional scan, kept traditional
    assert "ask not what your country can do for you" in output  # ASR, English
    assert "协会" in output  # ASR, Chinese
    assert re.search(r"7 items in \d+\.\d s", output)


def test_search_json_finds_a_page_word_and_a_spoken_word(demo_home: Path) -> None:
    page_hits = json.loads(lantai("search", "信用卡", "--json", home=demo_home).stdout)
    hit = page_hits[0]
    assert set(hit) >= {"item_id", "reference_code", "title", "kind", "snippet", "location"}
    assert hit["kind"] == "scan" and hit["location"]["page"] == 1 and len(hit["location"]["bbox"]) == 4
    assert "<mark>信用卡</mark>" in hit["snippet"]
    spoken = json.loads(lantai("search", "country", "--kind", "recording", "--json", home=demo_home).stdout)
    assert spoken[0]["kind"] == "recording"
    assert 0 <= spoken[0]["location"]["start"] < spoken[0]["location"]["end"]
    assert all(isinstance(v, float) for v in spoken[0]["location"].values())  # seconds, even 0.0
    trad = json.loads(lantai("search", "網絡支付", "--json", home=demo_home).stdout)  # traditional query
    assert any(h["kind"] == "scan" for h in trad)


def test_status_and_list_json(demo_home: Path) -> None:
    status = json.loads(lantai("status", "--json", home=demo_home).stdout)
    assert status["collections"]["DEMO"]["enriched"] == 7
    assert set(status["collections"]["DEMO"]) == {
        "pending",
        "processing",
        "enriched",
        "in_review",
        "approved",
        "failed",
        "quarantined",
    }
    assert status["failures"] == []
    runs = status["recent_runs"]  # what the last runs actually used
    assert len(runs) == 5 and {r["what"] for r in runs} <= {"ocr", "asr"}
    for r in runs:
        assert r["engine"] and isinstance(r["options"], dict), r
        if r["what"] == "asr":
            assert r["model"] == "base" and r["device"] == "cpu" and "beam_size" in r["options"]
    text = lantai("status", home=demo_home).stdout
    assert any(f"{r['what']} {r['reference_code']}" in text for r in runs)
    items = json.loads(lantai("list", "--json", home=demo_home).stdout)
    assert len(items) == 7
    assert set(items[0]) == {
        "item_id",
        "reference_code",
        "title",
        "kind",
        "source_name",
        "status",
        "access",
        "flags",
    }
    assert {i["source_name"] for i in items} == {p.name for p in SAMPLES.iterdir() if p.suffix != ".csv"}
    # the synthetic certificate carries a planted ID number and phone: screened, waiting for review
    cert = next(i for i in items if i["source_name"] == "街道证明.png")
    assert cert["access"] == "未审核" and cert["flags"] >= 3  # ID number, mobile, 内部资料 / 不得外传
    assert "开放审核" in pytest.demo_output  # type: ignore[attr-defined]


def test_exports(demo_home: Path, tmp_path: Path) -> None:
    items = {i["source_name"]: i for i in json.loads(lantai("list", "--json", home=demo_home).stdout)}
    talk = items["jfk 1961 inaugural.flac"]
    vtt = lantai("export", str(talk["item_id"]), "--format", "vtt", home=demo_home).stdout
    assert vtt.startswith("WEBVTT\n")
    cues = re.findall(r"(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})", vtt)
    assert cues and all(int(c[2]) * 1000 + int(c[3]) <= int(c[6]) * 1000 + int(c[7]) for c in cues)
    srt = lantai("export", talk["reference_code"], "--format", "srt", home=demo_home).stdout
    assert srt.startswith("1\n00:00:") and "," in srt.splitlines()[1]
    record = json.loads(lantai("export", str(talk["item_id"]), "--format", "json", home=demo_home).stdout)
    assert record["transcripts"][0]["segments"][0]["words"]
    scan = items["网络支付.png"]
    pdf_path = tmp_path / "scan.pdf"
    lantai("export", str(scan["item_id"]), "--format", "pdf", "-o", str(pdf_path), home=demo_home)
    assert "信用卡" in pdfium.PdfDocument(pdf_path)[0].get_textpage().get_text_range().replace(" ", "")
    hocr = lantai("export", str(scan["item_id"]), "--format", "hocr", home=demo_home).stdout
    assert "ocr_page" in hocr
    txt = lantai("export", str(scan["item_id"]), home=demo_home).stdout
    assert "网络支付并无本质的区别" in txt
    missing = lantai("export", "99999", home=demo_home, check=False)
    assert missing.returncode == 2 and "no item" in missing.stderr


def test_record_exports_parse(demo_home: Path, tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    from openpyxl import load_workbook

    items = {i["source_name"]: i for i in json.loads(lantai("list", "--json", home=demo_home).stdout)}
    talk = items["jfk 1961 inaugural.flac"]
    ohms = ET.fromstring(
        lantai("export", str(talk["item_id"]), "--format", "ohms", home=demo_home).stdout.encode()
    )
    record = ohms.find("record")
    assert record is not None and record.findtext("accession") == talk["reference_code"]
    assert record.findtext("interviewee") == "John F. Kennedy"
    points = record.findall("index/point")
    assert points and "country" in " ".join(p.findtext("partial_transcript") or "" for p in points)
    assert re.match(r"\[00:00:\d\d\] ", record.findtext("transcript") or "")
    dc = ET.fromstring(
        lantai("export", str(talk["item_id"]), "--format", "dc", home=demo_home).stdout.encode()
    )
    assert dc.find("{http://purl.org/dc/elements/1.1/}identifier").text == talk["reference_code"]  # type: ignore[union-attr]
    xlsx = tmp_path / "demo.xlsx"
    lantai("export", "DEMO", "--format", "xlsx", "-o", str(xlsx), home=demo_home)
    rows = list(load_workbook(xlsx).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert (
        rows[0] == ("序号", "档号", "文号", "责任者", "题名", "日期", "密级", "页数", "备注")
        and len(rows) == 8
    )
    assert "关于网络支付方式的说明（扫描件）" in [r[4] for r in rows]
    lines = lantai("export", "DEMO", "--format", "jsonl", home=demo_home).stdout.splitlines()
    assert len(lines) == 7 and all(json.loads(line)["item"]["reference_code"] for line in lines)


def test_bagit_package_validates(demo_home: Path, tmp_path: Path) -> None:
    import bagit

    bag_dir = tmp_path / "bag"
    done = lantai("export", "DEMO", "--format", "bag", "-o", str(bag_dir), home=demo_home)
    assert "validated" in done.stderr
    bag = bagit.Bag(str(bag_dir))
    bag.validate()  # every payload file against its SHA-256
    payload = [p.replace("\\", "/") for p in bag.payload_files()]
    assert sum(1 for p in payload if "/masters/" in p) == 7
    assert any(p.endswith("/premis.xml") for p in payload) and any(p.endswith("/ohms.xml") for p in payload)
    assert "data/mets.xml" in payload and bag.info["External-Identifier"] == "DEMO"
    # tampering is detected
    master = next(bag_dir.glob("data/*/masters/*.png"))
    master.write_bytes(master.read_bytes() + b"x")
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(bag_dir)).validate()
    # without -o the bag goes to exports/ in object storage
    stored = lantai("export", "1", "--format", "bag", home=demo_home)
    assert "exports/bags/1-" in stored.stderr
    # each export is itself recorded: the next bag's PREMIS names the earlier exports
    import getpass
    import xml.etree.ElementTree as ET

    again = tmp_path / "again"
    lantai("export", "1", "--format", "bag", "-o", str(again), home=demo_home)
    premis = ET.fromstring(next(again.glob("data/*/premis.xml")).read_bytes())
    ns = {"p": "http://www.loc.gov/premis/v3"}
    exports = [
        e for e in premis.iterfind("p:event", ns) if e.findtext("p:eventType", namespaces=ns) == "export"
    ]
    assert len(exports) >= 2  # the collection's bag and the item's stored bag
    agents = {
        e.findtext("p:linkingAgentIdentifier/p:linkingAgentIdentifierValue", namespaces=ns) for e in exports
    }
    assert agents == {f"cli:{getpass.getuser()}"}
    assert list((demo_home / "objects").rglob("bagit.txt"))


def test_uninitialised_home_is_created(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    status = json.loads(lantai("status", "--json", home=home).stdout)
    assert status["collections"] == {} and (home / "catalog.db").exists()


def test_missing_model_names_the_setup_command(tmp_path: Path) -> None:
    home = tmp_path / "home"
    lantai("ingest", str(SAMPLES / "寄语.wav"), home=home)
    done = lantai("enrich", home=home, env={"LANTAI_MODELS_DIR": str(tmp_path / "no-models")}, check=False)
    assert done.returncode == 3
    assert "lantai models install base" in done.stderr and "Traceback" not in done.stderr


def test_missing_tesseract_names_the_setup_command(tmp_path: Path) -> None:
    home = tmp_path / "home"
    lantai("ingest", str(SAMPLES / "phototest.tif"), home=home)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("ffmpeg", "ffprobe"):  # everything but tesseract
        if found := shutil.which(tool):
            (bin_dir / tool).symlink_to(found)
    done = lantai("enrich", home=home, env={"PATH": str(bin_dir)}, check=False)
    assert done.returncode == 3
    assert "tesseract" in done.stderr and "scripts/setup" in done.stderr


def test_audit_and_replicate_commands(tmp_path: Path) -> None:
    home = tmp_path / "home"
    batch = tmp_path / "b"
    batch.mkdir()
    shutil.copy(SAMPLES / "phototest.tif", batch)
    lantai("ingest", str(batch), "--collection", "AUD", home=home)
    ok = lantai("audit", home=home)
    assert "1 masters checked, 1 intact" in ok.stdout
    rep = json.loads(lantai("replicate", "--json", home=home).stdout)
    assert rep["copied"] == 1 and rep["passed"]
    assert json.loads(lantai("replicate", "--json", home=home).stdout)["skipped"] == 1
    [master] = [p for p in (home / "objects" / "lantai" / "masters").rglob("*.tif")]
    master.write_bytes(master.read_bytes()[:-10] + b"0123456789")
    bad = lantai("audit", home=home, check=False)
    assert bad.returncode == 6 and "CHANGED" in bad.stdout
    status = json.loads(lantai("status", "--json", home=home).stdout)
    assert status["audit"]["passed"] is False and len(status["audit"]["changed"]) == 1
    assert {"queue", "throughput", "in_progress"} <= set(status)
    # the replica still holds the intact copy
    [copy] = [p for p in (home / "objects" / "lantai-replica" / "masters").rglob("*.tif")]
    assert copy.read_bytes() == (SAMPLES / "phototest.tif").read_bytes()


def test_status_alarms_on_an_overdue_schedule(tmp_path: Path) -> None:
    """A worker registered the sweep an hour ago and nothing has succeeded since: status
    names the schedule and its alarm and exits 7; once a run succeeds it exits 0."""
    from datetime import timedelta

    from sqlmodel import Session

    from catalog.db import get_engine
    from catalog.models import utcnow
    from catalog.ops import schedules

    home = tmp_path / "home"
    home.mkdir()
    engine = get_engine(f"sqlite:///{home / 'catalog.db'}")
    now = utcnow()
    with Session(engine) as s:
        sweep = ("inbox-sweep", "inbox-sweep", "*/10 * * * *", "Asia/Shanghai")
        schedules.register(s, worker="w1", schedules=[sweep], now=now - timedelta(hours=1))
        schedules.heartbeat(s, worker="w1", next_runs={}, problems={}, now=now)
        s.commit()
    done = lantai("status", home=home, check=False)
    assert done.returncode == 7, done.stdout + done.stderr
    assert (
        "schedule inbox-sweep [*/10 * * * *]" in done.stdout and "ALARM no successful run ever" in done.stdout
    )
    as_json = lantai("status", "--json", home=home, check=False)
    assert as_json.returncode == 7 and json.loads(as_json.stdout)["alarm"] is True
    with Session(engine) as s:
        schedules.run_finished(s, name="inbox-sweep", flow_run="r1", outcome="success", now=utcnow())
        s.commit()
    engine.dispose()
    assert "ALARM" not in lantai("status", home=home).stdout


def test_manifest_access_is_a_proposal_and_lantai_open_decides(tmp_path: Path) -> None:
    """开放标识=开放 in a manifest opens nothing; `lantai open --proposed` screens first and
    refuses an item whose abstract holds an undecided ID number. A row with a terminal
    escape sequence is refused with its line number; -o never truncates or leaves junk."""
    from PIL import Image, ImageDraw

    batch = tmp_path / "batch"
    batch.mkdir()
    for name in ("clean.png", "personal.png", "escape.png"):
        img = Image.new("L", (400, 80), 255)
        ImageDraw.Draw(img).text((10, 30), f"page {name}", fill=0)
        img.save(batch / name)
    (batch / "manifest.csv").write_text(
        "文件名,题名,范围和提要,开放标识\n"
        "clean.png,干净的文件,普通说明,开放\n"
        "personal.png,含个人信息的文件,公民身份号码 11010519491231002X,开放\n"
        "escape.png,\x1b[2J标题,说明,开放\n",
        encoding="utf-8",
    )
    home = tmp_path / "home"
    ingest = lantai("ingest", str(batch), "--collection", "T15", home=home)
    assert "line 4" in ingest.stdout + ingest.stderr and "control character" in ingest.stdout + ingest.stderr
    lantai("enrich", home=home)
    items = {i["source_name"]: i for i in json.loads(lantai("list", "--json", home=home).stdout)}
    assert {i["access"] for i in items.values()} == {"未审核"}  # nothing opened by the import
    opened = lantai("open", "--collection", "T15", "--reason", "已按规定审核", "--proposed", "--json",
                    home=home, check=False)  # fmt: skip
    assert opened.returncode == 8, opened.stderr
    result = json.loads(opened.stdout)
    assert [o["item_id"] for o in result["opened"]] == [items["clean.png"]["item_id"]]
    assert result["refused"][0]["item_id"] == items["personal.png"]["item_id"]
    assert "undecided" in result["refused"][0]["reason"]
    after = {i["source_name"]: i["access"] for i in json.loads(lantai("list", "--json", home=home).stdout)}
    assert after["clean.png"] == "开放" and after["personal.png"] == "未审核"
    # -o: a failed export leaves an existing file alone; a missing folder is a clear error
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    failed = lantai("export", "9999", "-f", "txt", "-o", str(precious), home=home, check=False)
    assert failed.returncode != 0 and precious.read_text() == "keep me"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".precious")]
    missing = lantai(
        "export", "1", "-f", "txt", "-o", str(tmp_path / "nope" / "x.txt"), home=home, check=False
    )
    assert (
        missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    )


def test_config_shows_each_value_with_its_source(tmp_path: Path) -> None:
    """`lantai config --json`: every setting with where it came from — the shipped
    default.toml, the $LANTAI_CONFIG file, an environment variable (one key, or a whole
    section as JSON), a collection's own defaults — and no secret in the output."""
    home = tmp_path / "home"
    user = tmp_path / "site.toml"
    user.write_text("[ocr]\ndpi = 400\n\n[asr]\nbeam_size = 3\n", encoding="utf-8")
    env = {"LANTAI_CONFIG": str(user), "LANTAI_ASR__VAD": "true", "LANTAI_SECRET_KEY": "hunter2-secret",
           "LANTAI_WEB": '{"login_free_attempts": 9}',
           "LANTAI_STORAGE__SECRET_KEY": "s3-secret", "LANTAI_METRICS_TOKEN": "tok-secret"}  # fmt: skip
    done = lantai("config", "--json", home=home, env=env)
    rows = {r["key"]: r for r in json.loads(done.stdout)}
    assert rows["asr.vad"] == {"key": "asr.vad", "value": True, "source": "env LANTAI_ASR__VAD",
                               "env": "LANTAI_ASR__VAD"}  # fmt: skip
    assert rows["web.login_free_attempts"]["value"] == 9
    assert rows["web.login_free_attempts"]["source"] == "env LANTAI_WEB"
    assert rows["ocr.dpi"]["value"] == 400 and rows["ocr.dpi"]["source"] == str(user)
    assert rows["asr.beam_size"]["source"] == str(user)
    assert rows["asr.engine"] == {"key": "asr.engine", "value": "auto", "source": "default.toml",
                                  "env": "LANTAI_ASR__ENGINE"}  # fmt: skip
    assert rows["secret_key"]["value"] == "<set>" and rows["storage.secret_key"]["value"] == "<set>"
    assert rows["replica.secret_key"]["value"] == "<empty>"
    assert "secret" not in done.stdout.replace("secret_key", "") and "tok-" not in done.stdout
    # the human table, filtered; an unknown prefix is an error
    table = lantai("config", "show", "asr.vad", home=home, env=env).stdout
    assert "asr.vad" in table and "env LANTAI_ASR__VAD" in table and "ocr.dpi" not in table
    assert lantai("config", "show", "nothing", home=home, env=env, check=False).returncode == 2
    # a collection's own defaults are the last layer
    from sqlmodel import Session

    from catalog.db import get_engine
    from catalog.models import Collection

    lantai("list", home=home, env=env)  # the catalog exists
    with Session(get_engine(f"sqlite:///{home.resolve() / 'catalog.db'}")) as s:
        s.add(Collection(code="J019", name="水利", ocr_languages="chi_tra", asr_language="yue"))
        s.commit()
    rows = {r["key"]: r for r in json.loads(lantai("config", "show", "--collection", "J019", "--json",
                                                   home=home, env=env).stdout)}  # fmt: skip
    assert (
        rows["ocr.languages"]["value"] == "chi_tra" and rows["ocr.languages"]["source"] == "collection J019"
    )
    assert rows["asr.language"]["value"] == "yue"
    missing = lantai("config", "show", "--collection", "NOPE", home=home, env=env, check=False)
    assert missing.returncode == 2 and "NOPE" in missing.stderr
