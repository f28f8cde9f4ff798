"""A small vector scene and its three writers: SVG (text), PNG (Pillow) and PDF (ReportLab).

A :class:`Scene` is a list of rectangles, circles, polygons, polylines, texts and QR-code modules,
measured in tenths of a millimetre with y pointing down and text placed on its baseline. It is what
:mod:`popreg.cards.render` lays a card out in; the writers here know nothing of cards.

Fonts are the system's DejaVu Sans (Debian ``fonts-dejavu-core``), else Noto Sans or Liberation
Sans. Without any of them the PNG and PDF are still written, in the built-in fonts and without
diacritics; the SVG names the faces and leaves the choice to the viewer.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.colors import HexColor
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from popreg.kit.text import strip_diacritics

PNG_DPI = 300
UNITS_PER_INCH = 254  # tenths of a millimetre
PDF_UNIT = mm / 10  # points in a tenth of a millimetre
INK = "#1d2530"

SANS_FAMILY = "'DejaVu Sans', 'Noto Sans', 'Liberation Sans', Arial, sans-serif"
MONO_FAMILY = "'OCR-B', 'OCRB', 'DejaVu Sans Mono', 'Noto Sans Mono', 'Liberation Mono', monospace"
FONT_DIRECTORIES = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
FONT_FILES = {
    ("sans", "normal"): ("DejaVuSans.ttf", "NotoSans-Regular.ttf", "LiberationSans-Regular.ttf"),
    ("sans", "bold"): ("DejaVuSans-Bold.ttf", "NotoSans-Bold.ttf", "LiberationSans-Bold.ttf"),
    ("mono", "normal"): ("DejaVuSansMono.ttf", "NotoSansMono-Regular.ttf", "LiberationMono-Regular.ttf"),
    ("mono", "bold"): ("DejaVuSansMono-Bold.ttf", "NotoSansMono-Bold.ttf", "LiberationMono-Bold.ttf"),
}

Face = Literal["sans", "mono"]
Weight = Literal["normal", "bold"]
Anchor = Literal["start", "middle", "end"]
Point = tuple[float, float]


# ---------------------------------------------------------------------------------------------
# The scene: shapes in tenths of a millimetre, y downwards, text placed on its baseline


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str | None
    stroke: str | None = None
    stroke_width: float = 0
    radius: float = 0


@dataclass(frozen=True, slots=True)
class Circle:
    cx: float
    cy: float
    r: float
    fill: str | None
    stroke: str | None = None
    stroke_width: float = 0


@dataclass(frozen=True, slots=True)
class Polygon:
    points: tuple[Point, ...]
    fill: str


@dataclass(frozen=True, slots=True)
class Polyline:
    points: tuple[Point, ...]
    stroke: str
    width: float


@dataclass(frozen=True, slots=True)
class Text:
    x: float
    y: float
    text: str
    size: float
    fill: str = INK
    weight: Weight = "normal"
    anchor: Anchor = "start"
    face: Face = "sans"
    pitch: float | None = None  # a fixed advance per character (the MRZ)


@dataclass(frozen=True, slots=True)
class Modules:
    """A QR code: dark modules of ``matrix`` as squares of ``module`` units from (x, y)."""

    x: float
    y: float
    module: float
    matrix: tuple[tuple[bool, ...], ...]
    fill: str = "#000000"


Shape = Rect | Circle | Polygon | Polyline | Text | Modules


@dataclass(frozen=True, slots=True)
class Scene:
    width: float
    height: float
    title: str
    shapes: tuple[Shape, ...] = field(default_factory=tuple)


def moved(shape: Shape, dy: float) -> Shape:
    """The shape ``dy`` lower down."""
    if isinstance(shape, Rect | Text | Modules):
        return replace(shape, y=shape.y + dy)
    if isinstance(shape, Circle):
        return replace(shape, cy=shape.cy + dy)
    return replace(shape, points=tuple((x, y + dy) for x, y in shape.points))


# ---------------------------------------------------------------------------------------------
# Fonts and measuring


@cache
def font_path(face: Face, weight: Weight) -> Path | None:
    """The first font file of the face found in the system's font directories, or ``None``."""
    for name in FONT_FILES[(face, weight)]:
        for directory in FONT_DIRECTORIES:
            if directory.is_dir():
                found = next(directory.rglob(name), None)
                if found is not None:
                    return found
    return None


def has_unicode_fonts() -> bool:
    """Whether a font with Vietnamese letters was found (else PNG and PDF drop the diacritics)."""
    return font_path("sans", "normal") is not None and font_path("sans", "bold") is not None


@cache
def _pillow_font(face: Face, weight: Weight, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = font_path(face, weight)
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(str(path), size=size, layout_engine=ImageFont.Layout.BASIC)


def text_width(text: str, size: float, *, weight: Weight = "normal", face: Face = "sans") -> float:
    """The width of a line of text at ``size`` (both in tenths of a millimetre)."""
    font = _pillow_font(face, weight, 100)
    return float(font.getlength(_printable(text))) * size / 100


def fit_size(text: str, size: float, width: float, *, weight: Weight = "normal", minimum: float = 0) -> float:
    """The largest size up to ``size`` at which the text fits in ``width``."""
    measured = text_width(text, size, weight=weight)
    if measured <= width:
        return size
    return max(minimum, size * width / measured)


def wrap(text: str, size: float, width: float, *, max_lines: int) -> list[str]:
    """Greedy word wrapping into at most ``max_lines`` lines; the last one is cut with an ellipsis."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if current and text_width(candidate, size) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], " ".join(lines[max_lines - 1 :])]
    if lines and text_width(lines[-1], size) > width:
        last = lines[-1]
        while last and text_width(last + "…", size) > width:
            last = last[:-1]
        lines[-1] = last.rstrip(" ,") + "…"
    return lines


def _printable(text: str) -> str:
    """Text as the fonts at hand can print it: without diacritics when no Unicode font was found."""
    return text if has_unicode_fonts() else strip_diacritics(text)


def to_svg(scene: Scene, *, sized: bool = True) -> str:
    """An SVG document, sized in pixels at one per tenth of a millimetre; unsized (``sized=False``),
    to be placed in a page where it takes the width of its container."""
    size = f'width="{scene.width:g}" height="{scene.height:g}" ' if sized else ""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {scene.width:g} {scene.height:g}" '
        f'{size}role="img" font-family="{SANS_FAMILY}">',
        f"<title>{escape(scene.title)}</title>",
    ]
    parts.extend(_svg_shape(shape) for shape in scene.shapes)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _svg_paint(fill: str | None, stroke: str | None, width: float) -> str:
    paint = f' fill="{fill or "none"}"'
    if stroke:
        paint += f' stroke="{stroke}" stroke-width="{width:g}"'
    return paint


def _svg_shape(shape: Shape) -> str:
    if isinstance(shape, Rect):
        radius = f' rx="{shape.radius:g}"' if shape.radius else ""
        return (
            f'<rect x="{shape.x:g}" y="{shape.y:g}" width="{shape.width:g}" height="{shape.height:g}"{radius}'
            f"{_svg_paint(shape.fill, shape.stroke, shape.stroke_width)}/>"
        )
    if isinstance(shape, Circle):
        return (
            f'<circle cx="{shape.cx:g}" cy="{shape.cy:g}" r="{shape.r:g}"'
            f"{_svg_paint(shape.fill, shape.stroke, shape.stroke_width)}/>"
        )
    if isinstance(shape, Polygon):
        return f'<polygon points="{_svg_points(shape.points)}" fill="{shape.fill}"/>'
    if isinstance(shape, Polyline):
        return (
            f'<polyline points="{_svg_points(shape.points)}" fill="none" stroke="{shape.stroke}" '
            f'stroke-width="{shape.width:g}"/>'
        )
    if isinstance(shape, Modules):
        path = "".join(
            f"M{shape.x + column * shape.module:.2f} {shape.y + row * shape.module:.2f}"
            f"h{shape.module:.2f}v{shape.module:.2f}h-{shape.module:.2f}z"
            for row, cells in enumerate(shape.matrix)
            for column, dark in enumerate(cells)
            if dark
        )
        return f'<path d="{path}" fill="{shape.fill}" shape-rendering="crispEdges"/>'
    return _svg_text(shape)


def _svg_text(text: Text) -> str:
    attributes = [f'y="{text.y:g}"', f'font-size="{text.size:g}"', f'fill="{text.fill}"']
    if text.pitch is not None:
        positions = " ".join(f"{text.x + index * text.pitch:.1f}" for index in range(len(text.text)))
        attributes.insert(0, f'x="{positions}"')
    else:
        attributes.insert(0, f'x="{text.x:g}"')
    if text.weight == "bold":
        attributes.append('font-weight="bold"')
    if text.anchor != "start":
        attributes.append(f'text-anchor="{text.anchor}"')
    if text.face == "mono":
        attributes.append(f"font-family={quoteattr(MONO_FAMILY)}")
    return f"<text {' '.join(attributes)}>{escape(text.text)}</text>"


def _svg_points(points: Iterable[Point]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def to_png(scene: Scene, *, dpi: int = PNG_DPI) -> bytes:
    """The scene as a PNG at ``dpi`` dots per inch, on a white ground."""
    scale = dpi / UNITS_PER_INCH
    image = Image.new("RGB", (round(scene.width * scale), round(scene.height * scale)), "#ffffff")
    draw = ImageDraw.Draw(image)
    for shape in scene.shapes:
        _draw_png(draw, shape, scale)
    output = io.BytesIO()
    image.save(output, format="PNG", dpi=(dpi, dpi), optimize=True)
    return output.getvalue()


def _draw_png(draw: ImageDraw.ImageDraw, shape: Shape, scale: float) -> None:
    if isinstance(shape, Rect):
        box = (shape.x * scale, shape.y * scale, (shape.x + shape.width) * scale, (shape.y + shape.height) * scale)
        draw.rounded_rectangle(
            box,
            radius=shape.radius * scale,
            fill=shape.fill,
            outline=shape.stroke,
            width=max(1, round(shape.stroke_width * scale)) if shape.stroke else 0,
        )
    elif isinstance(shape, Circle):
        left, top = (shape.cx - shape.r) * scale, (shape.cy - shape.r) * scale
        right, bottom = (shape.cx + shape.r) * scale, (shape.cy + shape.r) * scale
        draw.ellipse(
            (left, top, right, bottom), fill=shape.fill, outline=shape.stroke, width=round(shape.stroke_width * scale)
        )
    elif isinstance(shape, Polygon):
        draw.polygon([(x * scale, y * scale) for x, y in shape.points], fill=shape.fill)
    elif isinstance(shape, Polyline):
        draw.line(
            [(x * scale, y * scale) for x, y in shape.points],
            fill=shape.stroke,
            width=max(1, round(shape.width * scale)),
        )
    elif isinstance(shape, Modules):
        # Whole pixels a module, so that every module of the code has the same size for a scanner.
        size = max(1, round(shape.module * scale))
        left, top = round(shape.x * scale), round(shape.y * scale)
        for row, cells in enumerate(shape.matrix):
            for column, dark in enumerate(cells):
                if dark:
                    x, y = left + column * size, top + row * size
                    draw.rectangle((x, y, x + size - 1, y + size - 1), fill=shape.fill)
    else:
        font = _pillow_font(shape.face, shape.weight, max(1, round(shape.size * scale)))
        anchor = {"start": "ls", "middle": "ms", "end": "rs"}[shape.anchor]
        text = _printable(shape.text)
        if shape.pitch is None:
            draw.text((shape.x * scale, shape.y * scale), text, fill=shape.fill, font=font, anchor=anchor)
            return
        for index, character in enumerate(text):
            position = ((shape.x + index * shape.pitch) * scale, shape.y * scale)
            draw.text(position, character, fill=shape.fill, font=font, anchor="ls")


def to_pdf(scenes: Sequence[Scene]) -> bytes:
    """One PDF page per scene, each the size of the card, in vector form with embedded fonts."""
    output = io.BytesIO()
    first = scenes[0]
    canvas = Canvas(output, pagesize=(first.width * PDF_UNIT, first.height * PDF_UNIT), pageCompression=1, invariant=1)
    canvas.setTitle(first.title)
    canvas.setAuthor("popreg")
    fonts = _pdf_fonts()
    for scene in scenes:
        canvas.setPageSize((scene.width * PDF_UNIT, scene.height * PDF_UNIT))
        for shape in scene.shapes:
            _draw_pdf(canvas, shape, scene.height, fonts)
        canvas.showPage()
    canvas.save()
    return output.getvalue()


@cache
def _pdf_fonts() -> dict[tuple[Face, Weight], str]:
    """The PDF font names: the system's TrueType fonts, registered once, else the built-in faces."""
    builtin: dict[tuple[Face, Weight], str] = {
        ("sans", "normal"): "Helvetica",
        ("sans", "bold"): "Helvetica-Bold",
        ("mono", "normal"): "Courier",
        ("mono", "bold"): "Courier-Bold",
    }
    if not has_unicode_fonts():
        return builtin
    names: dict[tuple[Face, Weight], str] = {}
    for key, fallback in builtin.items():
        path = font_path(*key)
        if path is None:
            names[key] = fallback
            continue
        name = f"popreg-{key[0]}-{key[1]}"
        pdfmetrics.registerFont(TTFont(name, str(path)))
        names[key] = name
    return names


def _draw_pdf(pdf: Any, shape: Shape, height: float, fonts: dict[tuple[Face, Weight], str]) -> None:
    """Draw one shape on a ReportLab canvas, whose y axis points upwards and whose unit is the point."""
    unit = PDF_UNIT
    if isinstance(shape, Rect):
        _pdf_paint(pdf, shape.fill, shape.stroke, shape.stroke_width * unit)
        pdf.roundRect(
            shape.x * unit,
            (height - shape.y - shape.height) * unit,
            shape.width * unit,
            shape.height * unit,
            shape.radius * unit,
            stroke=1 if shape.stroke else 0,
            fill=1 if shape.fill else 0,
        )
    elif isinstance(shape, Circle):
        _pdf_paint(pdf, shape.fill, shape.stroke, shape.stroke_width * unit)
        pdf.circle(shape.cx * unit, (height - shape.cy) * unit, shape.r * unit, stroke=1 if shape.stroke else 0, fill=1)
    elif isinstance(shape, Polygon | Polyline):
        path = pdf.beginPath()
        (x0, y0), *rest = shape.points
        path.moveTo(x0 * unit, (height - y0) * unit)
        for x, y in rest:
            path.lineTo(x * unit, (height - y) * unit)
        if isinstance(shape, Polygon):
            path.close()
            _pdf_paint(pdf, shape.fill, None, 0)
            pdf.drawPath(path, stroke=0, fill=1)
        else:
            _pdf_paint(pdf, None, shape.stroke, shape.width * unit)
            pdf.drawPath(path, stroke=1, fill=0)
    elif isinstance(shape, Modules):
        path = pdf.beginPath()
        for row, cells in enumerate(shape.matrix):
            for column, dark in enumerate(cells):
                if dark:
                    x = (shape.x + column * shape.module) * unit
                    y = (height - shape.y - (row + 1) * shape.module) * unit
                    path.rect(x, y, shape.module * unit, shape.module * unit)
        _pdf_paint(pdf, shape.fill, None, 0)
        pdf.drawPath(path, stroke=0, fill=1)
    else:
        _pdf_paint(pdf, shape.fill, None, 0)
        pdf.setFont(fonts[(shape.face, shape.weight)], shape.size * unit)
        text, y = _printable(shape.text), (height - shape.y) * unit
        if shape.pitch is not None:
            for index, character in enumerate(text):
                pdf.drawString((shape.x + index * shape.pitch) * unit, y, character)
        elif shape.anchor == "middle":
            pdf.drawCentredString(shape.x * unit, y, text)
        elif shape.anchor == "end":
            pdf.drawRightString(shape.x * unit, y, text)
        else:
            pdf.drawString(shape.x * unit, y, text)


def _pdf_paint(pdf: Any, fill: str | None, stroke: str | None, width: float) -> None:
    if fill:
        pdf.setFillColor(HexColor(fill))
    if stroke:
        pdf.setStrokeColor(HexColor(stroke))
        pdf.setLineWidth(width)
