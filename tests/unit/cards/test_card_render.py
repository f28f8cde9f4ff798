"""Specifications of the card's pictures: SVG, PNG and PDF of the front and back."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ElementTree
from datetime import date

import pytest
from PIL import Image

from popreg.cards import drawing
from popreg.cards.mrz import generate_td1
from popreg.cards.qr import generate_payload
from popreg.cards.render import CardContent, CardSide, RenderFormat, render
from popreg.registry.pin import Sex

SVG = "{http://www.w3.org/2000/svg}"
PIN = "001190123456"
NAME = "Nguyễn Thị Minh Khai"
ADDRESS = "Số 12, ngõ 45, phố Đội Cấn, Phường Ba Đình, Thành phố Hà Nội"


def content(**overrides: object) -> CardContent:
    values: dict[str, object] = {
        "pin": PIN,
        "full_name": NAME,
        "birth_date": date(1990, 5, 12),
        "sex_label": "Nữ",
        "nationality_label": "Việt Nam",
        "residence": ADDRESS,
        "birth_registration": "Phường Ba Đình, Thành phố Hà Nội",
        "date_of_issue": date(2026, 1, 2),
        "expiry_date": date(2030, 5, 12),
        "mrz": generate_td1(
            pin=PIN,
            surname="Nguyễn",
            given_names="Thị Minh Khai",
            birth_date=date(1990, 5, 12),
            sex=Sex.FEMALE,
            expiry_date=date(2030, 5, 12),
        ),
        "qr_payload": generate_payload(
            pin=PIN,
            old_id=None,
            full_name=NAME,
            birth_date=date(1990, 5, 12),
            sex=Sex.FEMALE,
            address=ADDRESS,
            issue_date=date(2026, 1, 2),
        ),
    }
    values.update(overrides)
    return CardContent(**values)  # type: ignore[arg-type]


def parse(svg: bytes) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # noqa: S314 - our own output, parsed to prove it is well-formed


def texts_of(svg: bytes) -> list[str]:
    root = parse(svg)
    return [element.text or "" for element in root.iter(f"{SVG}text")]


def test_the_front_shows_the_title_the_number_the_name_in_capitals_and_the_expiry():
    texts = texts_of(render(content(), CardSide.FRONT, RenderFormat.SVG))

    for expected in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "CĂN CƯỚC", PIN):
        assert expected in texts
    assert "NGUYỄN THỊ MINH KHAI" in texts
    assert "12/05/1990" in texts and "12/05/2030" in texts and "Nữ" in texts and "Việt Nam" in texts


def test_the_back_carries_the_mrz_at_the_icao_pitch_and_the_qr_code():
    zone = content().mrz
    root = parse(render(content(), CardSide.BACK, RenderFormat.SVG))
    lines = [element for element in root.iter(f"{SVG}text") if element.text in zone]

    assert [line.text for line in lines] == list(zone)
    positions = [float(x) for x in lines[0].attrib["x"].split()]
    assert len(positions) == 30
    assert {round(b - a, 1) for a, b in zip(positions, positions[1:], strict=False)} == {25.4}
    assert len(list(root.iter(f"{SVG}path"))) == 1  # the QR code's modules


def test_a_card_valid_for_life_says_so_and_a_cancelled_card_is_marked():
    front = texts_of(render(content(expiry_date=None, cancelled=True), CardSide.FRONT, RenderFormat.SVG))

    assert "Không thời hạn" in front
    assert "ĐÃ HỦY" in front and "CANCELLED" in front
    assert "ĐÃ HỦY" not in texts_of(render(content(), CardSide.FRONT, RenderFormat.SVG))


def test_text_is_escaped_and_a_long_name_or_address_is_fitted():
    long_name = "Tôn Nữ Thị Hoàng Bảo Ngọc Phương Thảo Huyền Trang & <Em>"
    long_address = " ".join(["Thôn Đông Bắc, xã Yên Thường"] * 8)
    svg = render(content(full_name=long_name, residence=long_address), CardSide.FRONT, RenderFormat.SVG)

    texts = texts_of(svg)  # parses: nothing broke the XML
    assert long_name.upper() in texts
    residence_lines = [
        element.text or ""
        for element in parse(svg).iter(f"{SVG}text")
        if element.attrib["font-size"] == "19" and element.attrib["x"] == "262"
    ]
    assert len(residence_lines) == 3 and residence_lines[-1].endswith("…")
    name_size = float(re.search(rb'font-size="([0-9.]+)"[^>]*>T\xc3\x94N', svg).group(1))  # type: ignore[union-attr]
    assert 16 <= name_size < 28


@pytest.mark.parametrize("side", [CardSide.FRONT, CardSide.BACK])
def test_the_png_is_the_card_at_300_dpi(side):
    image = Image.open(io.BytesIO(render(content(), side, RenderFormat.PNG)))

    assert image.format == "PNG"
    assert image.size == (1011, 638)  # 85.6 x 54.0 mm
    assert round(image.info["dpi"][0]) == 300


def test_both_sides_stack_in_svg_and_png_and_make_two_pages_in_pdf():
    pdf = render(content(), CardSide.BOTH, RenderFormat.PDF)
    both = Image.open(io.BytesIO(render(content(), CardSide.BOTH, RenderFormat.PNG)))

    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type /Page\b", pdf)) == 2
    assert both.size[1] > 2 * 638
    assert len(re.findall(rb"/Type /Page\b", render(content(), CardSide.FRONT, RenderFormat.PDF))) == 1


def test_without_a_unicode_font_png_and_pdf_are_still_written_without_diacritics(monkeypatch):
    monkeypatch.setattr(drawing, "font_path", lambda face, weight: None)
    for cached in (drawing._pillow_font, drawing._pdf_fonts):
        cached.cache_clear()
    try:
        assert drawing._printable("Nguyễn Đức") == "Nguyen Duc"
        assert render(content(), CardSide.FRONT, RenderFormat.PNG).startswith(b"\x89PNG")
        assert render(content(), CardSide.BACK, RenderFormat.PDF).startswith(b"%PDF")
    finally:
        for cached in (drawing._pillow_font, drawing._pdf_fonts):
            cached.cache_clear()
