"""Make the layout test pages: a two-column page under a full-width heading, a vertical
page read right to left (traditional script), a large-format scan of small print, and a
two-page book spread with footnotes and running feet. Their texts are the `.txt` files
beside them, in reading order, one line per printed line.

The text is from a provincial archives development plan (an official document of a state
organ, outside copyright under art. 5 of the Copyright Law of the PRC; the plans are in
the project's shared development data). Rendered with WenQuanYi Micro Hei (Apache-2.0 /
GPLv3 with font exception; Debian `fonts-wqy-microhei`). Run once by a developer; the
tests use the committed PNGs and need no font.

    .venv/bin/python tests/resources/make_layout_pages.py
"""

from __future__ import annotations

from pathlib import Path

import opencc
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).parent
FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
DPI = 200
SIZE = 32  # px: 11.5 pt at 200 dpi

HEADING = "陕西省档案事业发展规划"
LEFT = (
    "十四五时期是在全面建成小康社会实现第一个百年奋斗目标之后乘势而上开启全面建设社会主义"
    "现代化国家新征程向第二个百年奋斗目标进军的第一个五年"
)
RIGHT = (
    "是陕西扎实推进高质量发展奋力谱写新时代追赶超越新篇章的关键五年也是推动档案工作"
    "与时俱进适应国家治理体系和治理能力现代化要求的重要时期"
)
VERTICAL = (
    "坚持党管档案工作的原则加强档案工作的领导推进档案治理体系和治理能力现代化"
    "建设覆盖人民群众的档案资源体系和方便人民群众的档案利用体系"
)


def chunks(text: str, n: int) -> list[str]:
    return [text[i : i + n] for i in range(0, len(text), n)]


def two_columns(font: ImageFont.FreeTypeFont) -> tuple[Image.Image, list[str]]:
    per_line = 11
    page = Image.new("L", (1000, 1100), 255)
    draw = ImageDraw.Draw(page)
    draw.text((500, 90), HEADING, font=ImageFont.truetype(FONT, 44), fill=0, anchor="mt")
    lines = [HEADING]
    for x, text in ((70, LEFT), (560, RIGHT)):
        column = chunks(text, per_line)
        for row, line in enumerate(column):
            draw.text((x, 220 + row * 52), line, font=font, fill=0)
        lines += column
    return page, lines


def vertical(font: ImageFont.FreeTypeFont) -> tuple[Image.Image, list[str]]:
    text = opencc.OpenCC("s2t").convert(VERTICAL)
    per_column = 14
    columns = chunks(text, per_column)
    page = Image.new("L", (120 + 60 * len(columns) + 120, 140 + per_column * 40 + 100), 255)
    draw = ImageDraw.Draw(page)
    for n, column in enumerate(columns):  # the first column at the right
        x = page.width - 120 - 60 * (n + 1)
        for k, ch in enumerate(column):
            draw.text((x + 14, 140 + k * 40), ch, font=font, fill=0)
    return page, columns


def wide_small_print() -> tuple[Image.Image, list[str]]:
    """A large-format scan (6,000 pixels wide) of small print, 24 px characters: reduced to
    the 2,000 pixels RapidOCR detects on, they are 8 px, too small to recognise."""
    size, per_line = 24, 66
    lines = chunks(LEFT + RIGHT + VERTICAL, per_line)
    page = Image.new("L", (6000, 120 + len(lines) * 44), 255)
    draw, font = ImageDraw.Draw(page), ImageFont.truetype(FONT, size)
    for row, line in enumerate(lines):
        draw.text((3000 - per_line * size // 2, 60 + row * 44), line, font=font, fill=0)
    return page, lines


SPREAD_BODY = (
    "十三五时期在省委省政府的正确领导下全省各级档案部门坚持以习近平新时代中国特色社会主义思想"
    "为指导全面贯彻习近平总书记关于档案工作的重要论述和来陕考察重要讲话精神认真落实中办国办关于"
    "加强和改进新形势下档案工作的意见及我省实施意见围绕中心大局聚焦主责主业大力实施以人为本服务"
    "为先安全第一三大战略加快推进档案事业三个体系建设各项工作取得重要进展基本实现十三五规划的主"
    "要目标档案工作体制机制不断完善档案资源建设成效显著档案利用服务能力持续提升档案安全保障更加"
    "有力档案信息化建设稳步推进档案人才队伍不断壮大为全省经济社会发展作出了积极贡献党管档案上下"
    "贯通执行有力运行通畅的档案工作体制机制已进入全面推进和系统集成阶段适应新时代要求的档案机构"
    "职能体系框架已经建立强化了党对档案工作的全面领导档案法治建设水平大幅提升出台精准扶贫农村集"
    "体产权制度改革重点建设项目重大活动档案管理等一系列服务全省追赶超越发展的规范性文件地方档案"
    "法规体系基本健全扎实推进放管服改革规范档案行政审批"
)
SPREAD_NOTES = ("1 中共陕西省委办公厅二〇二一年三月十八日印发", "2 全国档案事业发展十四五规划")
SPREAD_FEET = (("12", "陕西省档案事业发展规划"), ("第一章科学认识历史方位", "13"))


def spread() -> tuple[Image.Image, list[str]]:
    """Two facing book pages scanned as one image: the body runs on from the left page's
    last line to the right page's first; the left page has two footnotes in smaller type
    (27 px under 32 px, as 小五 under 五号) under a short rule; each page has a running
    foot with its page number at the outer edge. Read: the body of both pages, then the
    notes, then the running feet."""
    body_font, note_font, foot_font = (ImageFont.truetype(FONT, size) for size in (SIZE, 27, 24))
    per_line, rows = 25, 9
    body = chunks(SPREAD_BODY, per_line)[: 2 * rows]
    page = Image.new("L", (2000, 1400), 255)
    draw = ImageDraw.Draw(page)
    for n, line in enumerate(body):
        x = 90 if n < rows else 1090
        draw.text((x, 150 + (n % rows) * 52), line, font=body_font, fill=0)
    draw.line((90, 700, 350, 700), fill=0, width=2)
    for n, note in enumerate(SPREAD_NOTES):
        draw.text((90, 720 + n * 38), note, font=note_font, fill=0)
    (left_no, left_title), (right_title, right_no) = SPREAD_FEET
    draw.text((90, 1320), left_no, font=foot_font, fill=0)
    draw.text((170, 1320), left_title, font=foot_font, fill=0)
    draw.text((1560, 1320), right_title, font=foot_font, fill=0)
    draw.text((1880, 1320), right_no, font=foot_font, fill=0)
    return page, [*body, *SPREAD_NOTES, left_no, left_title, right_title, right_no]


def main() -> None:
    font = ImageFont.truetype(FONT, SIZE)
    pages = {"two_columns": two_columns(font), "vertical_rtl": vertical(font)}
    pages["wide_small_print"] = wide_small_print()
    pages["book_spread"] = spread()
    for name, (page, lines) in pages.items():
        page.save(HERE / f"{name}.png", dpi=(DPI, DPI), optimize=True)
        (HERE / f"{name}.txt").write_text("\n".join(lines) + "\n", "utf-8")


if __name__ == "__main__":
    main()
