"""Pictures of a citizen identity card: its front and back as SVG, PNG and PDF.

The layout is drawn once, as a :class:`~popreg.cards.drawing.Scene` of simple shapes and texts
measured in tenths of a millimetre on an ID-1 card (85.6 x 54 mm, ISO/IEC 7810), and then written
by the writers of :mod:`popreg.cards.drawing`: SVG (for the console and for download), PNG (Pillow)
and PDF (ReportLab, vector, one page a side). The QR code is made by ``segno``; the MRZ is set at
the fixed pitch of ICAO 9303 (2.54 mm a character) in a monospace face, as OCR-B is not available
under a free licence here.

The front carries the national emblem (a plain star-in-circle, not the official artwork), the
national title and motto, "CĂN CƯỚC", the number (the PIN), name, date of birth, sex, nationality,
place of residence, date of expiry and a placeholder for the photograph; the back carries the chip,
the place of birth registration, the date of issue, the issuing authority, the QR code and the MRZ.
Every rendering says at its foot that it is a rendering from the register, not the card itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import segno

from popreg.cards.drawing import (
    Circle,
    Modules,
    Polygon,
    Polyline,
    Rect,
    Scene,
    Shape,
    Text,
    fit_size,
    moved,
    to_pdf,
    to_png,
    to_svg,
    wrap,
)

CARD_WIDTH = 856  # tenths of a millimetre
CARD_HEIGHT = 540
SIDE_GAP = 40
MRZ_PITCH = 25.4  # ICAO 9303 Part 3: ten characters to the inch

RED = "#c8102e"
GOLD = "#f2c14e"
SOFT_INK = "#4a5563"
PAPER = "#f5f1e6"
PAPER_EDGE = "#c9c1ab"
WAVE = "#e3dac2"
PHOTO = "#dfe3e8"
PHOTO_FIGURE = "#b3bac4"


class CardSide(StrEnum):
    FRONT = "front"
    BACK = "back"
    BOTH = "both"


class RenderFormat(StrEnum):
    SVG = "svg"
    PNG = "png"
    PDF = "pdf"


MEDIA_TYPES = {
    RenderFormat.SVG: "image/svg+xml",
    RenderFormat.PNG: "image/png",
    RenderFormat.PDF: "application/pdf",
}


@dataclass(frozen=True, slots=True)
class CardContent:
    """What a card shows, as printed (names and places in Vietnamese, dates as on the card)."""

    pin: str
    full_name: str
    birth_date: date
    sex_label: str
    nationality_label: str
    residence: str
    birth_registration: str
    date_of_issue: date
    expiry_date: date | None
    mrz: tuple[str, str, str]
    qr_payload: str
    cancelled: bool = False


# ---------------------------------------------------------------------------------------------
# The layout


def card_scene(content: CardContent, side: CardSide) -> Scene:
    """The front, the back, or both one above the other."""
    if side is CardSide.FRONT:
        return Scene(CARD_WIDTH, CARD_HEIGHT, "Thẻ căn cước – mặt trước / Identity card – front", _front(content))
    if side is CardSide.BACK:
        return Scene(CARD_WIDTH, CARD_HEIGHT, "Thẻ căn cước – mặt sau / Identity card – back", _back(content))
    offset = CARD_HEIGHT + SIDE_GAP
    return Scene(
        CARD_WIDTH,
        2 * CARD_HEIGHT + SIDE_GAP,
        "Thẻ căn cước – hai mặt / Identity card – both sides",
        (*_front(content), *(moved(shape, offset) for shape in _back(content))),
    )


def _card_ground(seed: float) -> list[Shape]:
    """The card stock: rounded edge, a tint, and fine waves standing for the security print."""
    shapes: list[Shape] = [Rect(0, 0, CARD_WIDTH, CARD_HEIGHT, PAPER, PAPER_EDGE, 2, 32)]
    for index in range(9):
        base = 70 + index * 52
        points = tuple(
            (x, base + 14 * math.sin(x / 58 + seed + index * 0.7) + 6 * math.sin(x / 23 + index))
            for x in range(12, CARD_WIDTH - 11, 12)
        )
        shapes.append(Polyline(points, WAVE, 1.6))
    return shapes


def _emblem(cx: float, cy: float, r: float) -> list[Shape]:
    """A plain five-pointed gold star on red in a gold ring: a placeholder for the national emblem."""
    star = tuple(
        (
            cx + (r * 0.72 if index % 2 == 0 else r * 0.29) * math.sin(math.pi * index / 5),
            cy - (r * 0.72 if index % 2 == 0 else r * 0.29) * math.cos(math.pi * index / 5),
        )
        for index in range(10)
    )
    return [Circle(cx, cy, r, GOLD), Circle(cx, cy, r * 0.86, RED), Polygon(star, GOLD)]


def _front(content: CardContent) -> tuple[Shape, ...]:
    shapes = _card_ground(0.0)
    shapes += _emblem(92, 92, 62)
    centre = 500
    shapes += [
        Text(centre, 52, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", 25, weight="bold", anchor="middle"),
        Text(centre, 76, "SOCIALIST REPUBLIC OF VIET NAM", 17, fill=SOFT_INK, anchor="middle"),
        Text(centre, 102, "Độc lập - Tự do - Hạnh phúc", 21, weight="bold", anchor="middle"),
        Text(centre, 123, "Independence - Freedom - Happiness", 15, fill=SOFT_INK, anchor="middle"),
        Text(centre, 178, "CĂN CƯỚC", 50, fill=RED, weight="bold", anchor="middle"),
        Text(centre, 204, "IDENTITY CARD", 19, fill=RED, weight="bold", anchor="middle"),
    ]
    shapes += _photo(40, 200, 192, 256)
    expiry = _date_or_life(content.expiry_date)
    shapes += [
        Text(40, 486, "Có giá trị đến / Date of expiry", 14, fill=SOFT_INK),
        Text(40, 514, expiry, fit_size(expiry, 22, 210, weight="bold", minimum=14), weight="bold"),
    ]
    left, width = 262, CARD_WIDTH - 262 - 34
    name = content.full_name.upper()
    name_size = fit_size(name, 28, width, weight="bold", minimum=16)
    shapes += [
        Text(left, 238, "Số định danh cá nhân / Personal identification number", 14, fill=SOFT_INK),
        Text(left, 276, content.pin, 38, fill=RED, weight="bold", face="mono"),
        Text(left, 306, "Họ, chữ đệm và tên khai sinh / Full name", 14, fill=SOFT_INK),
        Text(left, 338, name, name_size, weight="bold"),
        Text(left, 370, "Ngày sinh / Date of birth", 14, fill=SOFT_INK),
        Text(left, 398, f"{content.birth_date:%d/%m/%Y}", 23, weight="bold"),
        Text(left + 250, 370, "Giới tính / Sex", 14, fill=SOFT_INK),
        Text(left + 250, 398, content.sex_label, 23, weight="bold"),
        Text(left + 400, 370, "Quốc tịch / Nationality", 14, fill=SOFT_INK),
        Text(left + 400, 398, content.nationality_label, 23, weight="bold"),
        Text(left, 430, "Nơi cư trú / Place of residence", 14, fill=SOFT_INK),
    ]
    for index, line in enumerate(wrap(content.residence or "—", 19, width, max_lines=3)):
        shapes.append(Text(left, 456 + index * 25, line, 19))
    if content.cancelled:
        shapes += _cancelled_stamp(46, 282, 180, 96)  # over the photograph: the number stays legible
    return tuple(shapes)


def _photo(x: float, y: float, width: float, height: float) -> list[Shape]:
    """A grey frame with a head-and-shoulders figure where the photograph is printed."""
    cx = x + width / 2
    shoulders = tuple(
        (cx + width * 0.42 * math.cos(angle), y + height - 2 + height * 0.36 * -math.sin(angle))
        for angle in (math.pi * step / 24 for step in range(25))
    )
    return [
        Rect(x, y, width, height, PHOTO, PAPER_EDGE, 2, 8),
        Circle(cx, y + height * 0.38, width * 0.22, PHOTO_FIGURE),
        Polygon(shoulders, PHOTO_FIGURE),
    ]


def _back(content: CardContent) -> tuple[Shape, ...]:
    shapes = _card_ground(1.3)
    shapes += _chip(44, 44)
    qr = segno.make(content.qr_payload, error="m", micro=False, encoding="utf-8")
    matrix = tuple(tuple(bool(cell) for cell in row) for row in qr.matrix_iter(scale=1, border=0))
    quiet, size = 16, 196
    module = size / len(matrix)
    qr_x, qr_y = CARD_WIDTH - 40 - size, 30
    shapes += [
        Rect(qr_x - quiet, qr_y - quiet + 8, size + 2 * quiet, size + 2 * quiet, "#ffffff", radius=6),
        Modules(qr_x, qr_y + 8, module, matrix),
    ]
    left, width = 44, qr_x - quiet - 44 - 24
    shapes += [Text(left, 176, "Nơi đăng ký khai sinh / Place of birth registration", 14, fill=SOFT_INK)]
    y = 200
    for line in wrap(content.birth_registration or "—", 18, width, max_lines=2):
        shapes.append(Text(left, y, line, 18))
        y += 23
    shapes += [
        Text(left, 266, "Ngày, tháng, năm cấp / Date of issue", 14, fill=SOFT_INK),
        Text(left, 292, f"{content.date_of_issue:%d/%m/%Y}", 22, weight="bold"),
        Text(left + 300, 266, "Nơi cấp / Place of issue", 14, fill=SOFT_INK),
        Text(left + 300, 292, "BỘ CÔNG AN", 20, weight="bold"),
        Text(left + 300, 312, "Ministry of Public Security", 13, fill=SOFT_INK),
        Text(
            CARD_WIDTH - 40,
            CARD_HEIGHT - 190,
            "Hiển thị từ Cơ sở dữ liệu quốc gia về dân cư – không thay thế thẻ",
            11,
            fill=SOFT_INK,
            anchor="end",
        ),
    ]
    shapes.append(Rect(2, CARD_HEIGHT - 178, CARD_WIDTH - 4, 150, "#fbfaf6"))
    pitch = MRZ_PITCH
    mrz_x = (CARD_WIDTH - pitch * 30) / 2
    for index, line in enumerate(content.mrz):
        shapes.append(Text(mrz_x, CARD_HEIGHT - 134 + index * 46, line, 36, face="mono", pitch=pitch))
    if content.cancelled:
        shapes += _cancelled_stamp(200, 44, 300, 96)  # between the chip and the QR code
    return tuple(shapes)


def _chip(x: float, y: float) -> list[Shape]:
    """The contact plate of the chip: a gold plate with the outline of its contacts."""
    width, height = 118, 90
    shapes: list[Shape] = [Rect(x, y, width, height, "#d9b45a", "#9c7a2c", 2, 14)]
    for fraction in (1 / 3, 2 / 3):
        shapes.append(Polyline(((x, y + height * fraction), (x + width, y + height * fraction)), "#9c7a2c", 2))
    shapes.append(Polyline(((x + width / 2, y), (x + width / 2, y + height)), "#9c7a2c", 2))
    shapes.append(Rect(x + width * 0.3, y + height * 0.25, width * 0.4, height * 0.5, "#e3c472", "#9c7a2c", 2, 6))
    return shapes


def _cancelled_stamp(x: float, y: float, width: float, height: float) -> list[Shape]:
    """A red "cancelled" stamp placed where it hides none of the card's data."""
    centre = x + width / 2
    return [
        Rect(x, y, width, height, "#ffffff", RED, 5, 8),
        Text(
            centre,
            y + height * 0.52,
            "ĐÃ HỦY",
            fit_size("ĐÃ HỦY", 40, width - 24, weight="bold"),
            RED,
            "bold",
            "middle",
        ),
        Text(
            centre,
            y + height * 0.84,
            "CANCELLED",
            fit_size("CANCELLED", 22, width - 24, weight="bold"),
            RED,
            "bold",
            "middle",
        ),
    ]


def _date_or_life(value: date | None) -> str:
    return f"{value:%d/%m/%Y}" if value is not None else "Không thời hạn"


# ---------------------------------------------------------------------------------------------
# Writers


def render(content: CardContent, side: CardSide, output: RenderFormat) -> bytes:
    """The card's side(s) in the format asked for."""
    if output is RenderFormat.SVG:
        return to_svg(card_scene(content, side)).encode("utf-8")
    if output is RenderFormat.PNG:
        return to_png(card_scene(content, side))
    sides = (CardSide.FRONT, CardSide.BACK) if side is CardSide.BOTH else (side,)
    return to_pdf([card_scene(content, one) for one in sides])
