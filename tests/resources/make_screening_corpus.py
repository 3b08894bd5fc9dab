"""Make ``screening_corpus.json``: personal data written the ways Chinese records write it,
and numbers that are not personal data, for the screening tests and ``bench/screening.py``.

The formats come from the documents themselves, not from the detector: 户籍证明 and 介绍信
(公民身份号码 in one run, in the 6-8-4 grouping of the card, broken by a line end), 花名册 and
通讯录 tables (a column of numbers one per line, two numbers side by side, a number per
cell), bank forms (card numbers in groups of four), letterheads (area codes in brackets,
extensions, +86), transcripts (numbers spoken as Chinese numerals, 幺 for 1), OCR output
(full-width digits, soft hyphens and zero-width characters inside numbers, traditional
script). The numbers are made valid by the standards (GB 11643 check character, the Luhn
digit, mobile prefixes and area codes in use), from a fixed seed, so the file is the same
on every run: ``python tests/resources/make_screening_corpus.py``.

Each case: ``text``, ``expect`` (category, value without whitespace — as written, so
full-width digits stay full-width), ``family`` (where such text comes from)."""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).with_name("screening_corpus.json")
rng = random.Random(20261205)

PROVINCES = ["11", "12", "13", "31", "32", "33", "37", "41", "42", "44", "51", "53", "61", "65"]
MOBILE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152"]
MOBILE_PREFIXES += ["155", "156", "157", "158", "159", "166", "176", "177", "180", "181", "186", "187"]
MOBILE_PREFIXES += ["188", "189", "191", "198", "199"]
AREA_CODES = ["010", "021", "022", "023", "020", "0755", "0371", "0571", "027", "028", "0532", "0931"]
NUMERALS = "〇一二三四五六七八九"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["建国", "秀英", "桂兰", "志强", "玉兰", "卫东", "淑珍", "国华", "丽华", "永福"]


def id_number(year: int | None = None) -> str:
    y = year or rng.randint(1925, 2005)
    body = rng.choice(PROVINCES) + f"{rng.randint(1, 99):02d}{rng.randint(1, 30):02d}"
    body += f"{y}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    total = sum(
        int(d) * w for d, w in zip(body, (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), strict=True)
    )
    return body + "10X98765432"[total % 11]


def id_15() -> str:
    return (
        rng.choice(PROVINCES)
        + f"{rng.randint(1, 99):02d}{rng.randint(1, 30):02d}"
        + f"{rng.randint(30, 89)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    )


def mobile() -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randint(0, 99999999):08d}"


def landline() -> tuple[str, str]:
    area = rng.choice(AREA_CODES)
    local = str(rng.randint(2, 8)) + f"{rng.randint(0, 10**7 - 1):07d}"  # 8-digit local numbers
    return area, local


def luhn_complete(body: str) -> str:
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def card(length: int = 19) -> str:
    prefix = rng.choice(["622202", "622848", "621700", "622588", "436742", "518710", "955880"])
    return luhn_complete(prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1)))


def name() -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def full_width(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in s)


def chinese_numerals(s: str, yao: bool = False) -> str:
    out = "".join(NUMERALS[int(c)] for c in s)
    return out.replace("一", "幺") if yao else out


def group(s: str, sizes: tuple[int, ...], sep: str = " ") -> str:
    out, pos = [], 0
    for n in sizes:
        out.append(s[pos : pos + n])
        pos += n
    if pos < len(s):
        out.append(s[pos:])
    return sep.join(out)


def break_at(s: str, k: int | None = None) -> str:
    k = k if k is not None else rng.randint(3, len(s) - 3)
    return s[:k] + "\n" + s[k:]


def inside(s: str, ch: str) -> str:
    k = rng.randint(2, len(s) - 2)
    return s[:k] + ch + s[k:]


def positives() -> list[dict[str, object]]:
    cases: list[dict[str, object]] = []

    def add(family: str, text: str, *expect: tuple[str, str]) -> None:
        cases.append({"family": family, "text": text, "expect": [[c, "".join(v.split())] for c, v in expect]})

    for _ in range(6):  # 户籍证明 / 介绍信
        i = id_number()
        add("户籍证明", f"兹证明{name()}，性别男，公民身份号码{i}，系我辖区常住人口。", ("id_number", i))
        g = group(i, (6, 8))
        add("户籍证明", f"公民身份号码：{g}\n特此证明。", ("id_number", g))
        b = break_at(i)
        add("户籍证明（OCR 折行）", f"该同志身份证号码为{b}，现住址不变。", ("id_number", b))
        lower = i[:-1] + ("x" if i.endswith("X") else i[-1])
        add("介绍信", f"兹介绍{name()}同志（身份证{lower}）前往贵处联系工作。", ("id_number", lower))
        h = group(i, (6, 4, 4, 4), "-")
        add("登记表", f"证件号 {h} 证件类型 居民身份证", ("id_number", h))
        add("登记表", f"ID{i}（证件）", ("id_number", i))
    for _ in range(5):  # first-generation numbers
        i = id_15()
        add("旧户籍档案", f"原身份证号{i}，已换发二代证。", ("id_number_15", i))
    for _ in range(6):  # 花名册 and 通讯录
        m1, m2, i = mobile(), mobile(), id_number()
        add(
            "花名册",
            f"序号 姓名 性别 身份证号 联系电话\n1 {name()} 男 {i} {m1}",
            ("id_number", i),
            ("mobile", m1),
        )
        add("通讯录", f"电话 {m1} {m2}", ("mobile", m1), ("mobile", m2))
        column = [mobile() for _ in range(4)]
        add("通讯录（一列）", "联系电话\n" + "\n".join(column), *[("mobile", c) for c in column])
        add("通讯录", f"{name()}：{m1}；{name()}：{m2}", ("mobile", m1), ("mobile", m2))
        add("通讯录", f"手机 {m1}/{m2}", ("mobile", m1), ("mobile", m2))
    for _ in range(6):  # mobiles in their written forms
        m = mobile()
        g = group(m, (3, 4))
        add("信函", f"请与我联系：{g}。", ("mobile", g))
        h = group(m, (3, 4), "-")
        add("信函", f"手机{h}", ("mobile", h))
        add("名片", f"+86 {m}", ("mobile", f"+86{m}"))
        add("名片", f"Mobile: +86-{h}", ("mobile", f"+86-{h}"))
        add("名片", f"(+86) {g}", ("mobile", f"(+86){g}"))
        add("登记表（全角）", f"手机号码{full_width(m)}", ("mobile", full_width(m)))
        add("OCR（折行）", f"联系电话{break_at(m)}", ("mobile", m))
        add("OCR（软连字符）", f"电话 {inside(m, chr(0xAD))} 办公室", ("mobile", m))
        add("OCR（零宽字符）", f"电话{inside(m, chr(0x200D))}", ("mobile", m))
        add("OCR（词连接符）", f"{inside(m, chr(0x2060))} 张", ("mobile", m))
        n = chinese_numerals(m)
        add("访谈转写", f"我的手机是{n}，你记一下", ("mobile", n))
        y = chinese_numerals(m, yao=True)
        add("访谈转写", f"号码{y}对", ("mobile", y))
    for _ in range(6):  # landlines
        area, local = landline()
        add("信笺抬头", f"电话：{area}-{local}", ("landline", f"{area}-{local}"))
        add("信笺抬头", f"电话：（{area}）{local}", ("landline", f"（{area}）{local}"))
        g = group(local, (4,))
        add("信笺抬头", f"Tel ({area}) {g}", ("landline", f"({area}){g}"))
        add("信笺抬头", f"+86 {area[1:]} {g}", ("landline", f"+86{area[1:]}{g}"))
        add("通讯录", f"办公室 {area}-{local}-8021", ("landline", f"{area}-{local}-8021"))
        add("通讯录", f"宅电 {local}", ("landline", local))
        add("传真", f"传真：{area} {local} 转 306", ("landline", f"{area}{local}转306"))
    for _ in range(5):  # bank forms
        c = card()
        g = group(c, (4, 4, 4, 4))
        add("银行表单", f"开户行：中国工商银行北京分行\n账号：{g}", ("bank_card", g))
        add("工资表", f"{name()} 工资卡 {c} 实发 3,250.00", ("bank_card", c))
        d = card(16)
        add("银行表单", f"卡号{d}，户名{name()}", ("bank_card", d))
        add("银行表单（OCR 折行）", f"账号 {break_at(c)} 开户", ("bank_card", c))
    for local, domain in (("zhang.san", "example.com"), ("li_si+archive", "163.com"), ("wangwu", "qq.com")):
        e = f"{local}@{domain}"
        add("信函", f"如有疑问请发邮件至{e}。", ("email", e))
    # several kinds in one record
    i, m, area_local, c = id_number(), mobile(), landline(), card()
    add(
        "人事登记表",
        f"姓名 {name()}\n身份证号 {i}\n手机 {m}\n办公电话 {area_local[0]}-{area_local[1]}\n工资卡 {c}",
        ("id_number", i),
        ("mobile", m),
        ("landline", f"{area_local[0]}-{area_local[1]}"),
        ("bank_card", c),
    )
    return cases


def negatives() -> list[dict[str, object]]:
    texts = [
        # dates
        "1949年10月1日",
        "2019-12-03",
        "2019.12.03",
        "20191203",
        "19580301 至 19601231",
        "一九四九年十月一日",
        "二〇二三年三月",
        "1966年5月16日—1976年10月6日",
        "日期 1990/01/01",
        "2020-01-01 08:30:00",
        "19900101-19951231",
        "公元前221年",
        "民国三十八年",
        # amounts and counts
        "1,234,567.00元",
        "金额 12345678 元",
        "共计 13,800 人",
        "人口 123456 人，耕地 8765432 亩",
        "3.1415926",
        "拨款 2,345,678.90 元",
        "产值 1.38 亿元",
        "增长 13.5%",
        "15800 元/吨",
        "合计 137000033 元",
        "存款余额 6222029015 元",
        "十万八千",
        "三百多人",
        "第一二三四五六七八九十条",
        # years and small numbers in a row (tables)
        "1958 1959 1960 1961 1962",
        "2001 2002 2003 2004 2005",
        "12 15 18 21 24 27 30",
        "1 2 3 4 5 6 7 8 9 10 11 12 13",
        "13 56 78 90 12 3",
        "第1、2、3、4、5、6、7、8条",
        "6.5 7.2 8.1 9.0 10.4",
        "序号\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10",
        "45\n38\n61\n27\n52\n33",
        "138 139 140 141 142",
        "2019\n2020\n2021\n2022",
        "7 14 21 28 35 42 49 56",
        "1990 1991 1992 1993",
        "100 200 300 400 500",
        "0.5 1.0 1.5 2.0",
        # archival identifiers and references
        "J001-WS·1958·Y-0012",
        "J019-LY·2019·Y-001",
        "国发〔2019〕12号",
        "京政办发〔2020〕35号",
        "GB/T 7714-2015",
        "ISO 15489-1:2016",
        "DA/T 18-2022",
        "GB 11643-1999",
        "卷号 0012345",
        "No. 0012345",
        "第123-456页",
        "档案馆编号 2019001234",
        "案卷号 1958-0012-0034",
        # postcodes, ISBN, ISSN, coordinates
        "邮编 100871",
        "邮政编码：200433",
        "ISBN 978-7-5013-6145-9",
        "ISBN 9787561732456",
        "ISSN 1002-1620",
        "经度116.3912 纬度39.9073",
        "116.397128, 39.916527",
        "北纬39°54′27″",
        # service numbers and phone-like non-numbers
        "客服电话 400-810-8888",
        "热线 800-820-8820",
        "报警 110 火警 119 急救 120",
        "查号 114",
        "12345678901",
        "号码 10086",
        "编号 12345",
        "版本 1.38.0013",
        # times and measurements
        "13:45",
        "08:00-17:30",
        "长 138 厘米 宽 60 厘米",
        "海拔 1380 米",
        "1380mm × 600mm",
        "体温 36.5",
        "电压 220V",
        "频率 1380 千赫",
        # statistics tables
        "年份 1952 1957 1962\n产量 138 156 172",
        "男 1380 女 1290 合计 2670",
        "1958年 13800吨 1959年 15600吨",
        "粮食 13700 棉花 3333",
        "项目 01 02 03 04 05 06",
        "表3-1 主要指标",
        # legal and document numbering
        "《中华人民共和国档案法》第二十七条",
        "第13700003条",
        "(2019)京0105民初12345号",
        "合同编号 HT-2019-0012",
        "发票号码 01234567",
        "凭证号 0000123",
        # text with digits and Chinese numerals that are not numbers of persons
        "一二·九运动",
        "五四运动",
        "九一八事变",
        "一二三四五六",
        "七七事变 八一三",
        "三十八年",
        "第一次 第二次 第三次",
        "一九五八年修水库的时候全村三百多人都去了",
        "二十一世纪",
        "一千九百四十九年",
        # identifiers of organisations and things
        "统一社会信用代码 91110000100000000X",
        "车牌 京A12345",
        "房间 1380 号",
        "楼号 13 单元 7 室 333",
        "身高 170 体重 65",
        "分数 138 分",
        "学号 2019012345",
        "准考证号 201901234567",
    ]
    return [{"family": "不是个人信息", "text": t, "expect": []} for t in texts]


def main() -> None:
    pos, neg = positives(), negatives()
    for n, case in enumerate(pos, 1):
        case["id"] = f"p{n:03d}"
    for n, case in enumerate(neg, 1):
        case["id"] = f"n{n:03d}"
    OUT.write_text(
        json.dumps({"about": __doc__, "positives": pos, "negatives": neg}, ensure_ascii=False, indent=1)
        + "\n",
        encoding="utf-8",
    )
    print(f"{len(pos)} positives, {len(neg)} negatives → {OUT}")


if __name__ == "__main__":
    main()
