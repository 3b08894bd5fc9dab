"""Make the two layout test pages: a two-column page under a full-width heading, and a
vertical page read right to left (traditional script). Their texts are the `.txt` files
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


def main() -> None:
    font = ImageFont.truetype(FONT, SIZE)
    pages = {"two_columns": two_columns(font), "vertical_rtl": vertical(font)}
    pages["wide_small_print"] = wide_small_print()
    for name, (page, lines) in pages.items():
        page.save(HERE / f"{name}.png", dpi=(DPI, DPI), optimize=True)
        (HERE / f"{name}.txt").write_text("\n".join(lines) + "\n", "utf-8")


if __name__ == "__main__":
    main()
