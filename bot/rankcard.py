"""The `/rank` card: a PNG with avatar, name, rank position, level and a progress bar.

Pure CPU work (about 20-40 ms); the cog calls it through `anyio.to_thread.run_sync` so the event loop never
waits on Pillow. Everything is drawn at twice the size and scaled down once, which antialiases the circle
and the rounded bar that Pillow's ImageDraw would otherwise draw with jagged edges.
"""

from __future__ import annotations

import io
import unicodedata
import zlib
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

WIDTH, HEIGHT = 934, 282
SCALE = 2  # supersampling factor
MAX_AVATAR_PIXELS = 4096 * 4096  # avatars bigger than this are refused before decoding (decompression bombs)

BACKGROUND = (30, 31, 34, 255)
PANEL = (43, 45, 49, 255)
TEXT = (242, 243, 245, 255)
MUTED = (148, 155, 164, 255)
BAR_TRACK = (64, 66, 73, 255)
ACCENT = (88, 101, 242, 255)
ACCENT_LIGHT = (137, 180, 255, 255)
# Placeholder avatar colours, picked per name so the same member always gets the same one.
PLACEHOLDER_COLOURS = [
    (88, 101, 242),
    (87, 242, 135),
    (254, 231, 92),
    (235, 69, 158),
    (237, 66, 69),
    (250, 166, 26),
    (69, 194, 214),
]

FontT = ImageFont.FreeTypeFont | ImageFont.ImageFont

# Shipped DejaVu (bot/fonts/, see LICENSE there): Pillow's built-in font lacks even "é", and member names
# are often accented, Greek or Cyrillic. Without the files (a stripped install) the system's DejaVu, then
# Pillow's built-in scalable font keep the card working.
FONT_DIR = Path(__file__).with_name("fonts")
_FONT_FILES = {True: "DejaVuSans-Bold.ttf", False: "DejaVuSans.ttf"}


@lru_cache(maxsize=32)
def _font(size: int, bold: bool = False) -> FontT:
    name = _FONT_FILES[bold]
    for candidate in (str(FONT_DIR / name), name):
        try:
            return ImageFont.truetype(candidate, size * SCALE)
        except OSError:
            continue
    return ImageFont.load_default(size * SCALE)


def render_rank_card(
    name: str,
    level: int,
    xp_into: int,
    xp_needed: int,
    rank: int,
    total_xp: int,
    avatar_png: bytes | None,
) -> bytes:
    """A WIDTH x HEIGHT RGBA PNG. `avatar_png`: any format Pillow reads; None or garbage -> an initial."""
    s = SCALE
    card = Image.new("RGBA", (WIDTH * s, HEIGHT * s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(card)
    draw.rounded_rectangle((0, 0, WIDTH * s - 1, HEIGHT * s - 1), radius=28 * s, fill=BACKGROUND)
    draw.rounded_rectangle((18 * s, 18 * s, (WIDTH - 18) * s, (HEIGHT - 18) * s), radius=20 * s, fill=PANEL)

    _draw_avatar(card, name, avatar_png, centre=(148 * s, 141 * s), diameter=184 * s)

    left, right = 286 * s, 880 * s

    # Top right: "RANK #3   LEVEL 12", values big, labels small, laid out right to left.
    baseline = 96 * s
    x = right
    for label, value, colour in (("LEVEL", str(level), ACCENT_LIGHT), ("RANK", _rank_text(rank), TEXT)):
        x -= draw.textlength(value, font=_font(52, bold=True))
        draw.text((x, baseline), value, font=_font(52, bold=True), fill=colour, anchor="ls")
        x -= 10 * s + draw.textlength(label, font=_font(22, bold=True))
        draw.text((x, baseline), label, font=_font(22, bold=True), fill=MUTED, anchor="ls")
        x -= 34 * s

    # Name and "into / needed XP" on one line above the bar.
    baseline = 168 * s
    xp_text = f"{_compact(xp_into)} / {_compact(xp_needed)} XP"
    xp_font = _font(26, bold=True)
    xp_width = draw.textlength(xp_text, font=xp_font)
    draw.text((right, baseline), xp_text, font=xp_font, fill=MUTED, anchor="rs")
    name_font = _font(40, bold=True)
    shown = _fit(_clean_name(name), name_font, right - left - xp_width - 24 * s)
    draw.text((left, baseline), shown, font=name_font, fill=TEXT, anchor="ls")

    # Progress bar: a track and a fill, both fully rounded.
    top, bottom = 184 * s, 222 * s
    radius = (bottom - top) // 2
    draw.rounded_rectangle((left, top, right, bottom), radius=radius, fill=BAR_TRACK)
    fraction = 1.0 if xp_needed <= 0 else min(max(xp_into / xp_needed, 0.0), 1.0)
    if fraction > 0:
        fill_right = max(left + 2 * radius, round(left + (right - left) * fraction))
        _draw_gradient_bar(card, (left, top, fill_right, bottom), radius)

    baseline = 252 * s
    small = _font(20)
    draw.text((left, baseline), f"Total {total_xp:,} XP", font=small, fill=MUTED, anchor="ls")
    draw.text((right, baseline), f"{fraction:.0%} to level {level + 1}", font=small, fill=MUTED, anchor="rs")

    out = card.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    out.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def _rank_text(rank: int) -> str:
    return f"#{rank:,}" if rank > 0 else "#-"


def _compact(n: int) -> str:
    """1,234 / 12.3K / 1.23M: keeps the XP line short enough to leave room for the name."""
    if abs(n) < 10_000:
        return f"{n:,}"
    if abs(n) < 1_000_000:
        return f"{n / 1000:.1f}K"
    if abs(n) < 1_000_000_000:
        return f"{n / 1_000_000:.2f}M"
    return f"{n / 1_000_000_000:.2f}B"


def _clean_name(name: str) -> str:
    # Control and format characters (newlines, RTL overrides, zero-width joiners) would break the layout.
    cleaned = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C")).strip()
    return cleaned or "Unknown"


def _fit(text: str, font: FontT, max_width: float) -> str:
    """`text`, or its longest prefix plus an ellipsis that fits in `max_width` pixels."""
    if font.getlength(text) <= max_width:
        return text
    low, high = 0, len(text)  # invariant: prefix of length `low` fits, `high` does not
    while high - low > 1:
        mid = (low + high) // 2
        if font.getlength(text[:mid].rstrip() + "…") <= max_width:
            low = mid
        else:
            high = mid
    return text[:low].rstrip() + "…"


def _decode_avatar(data: bytes | None) -> Image.Image | None:
    if not data:
        return None
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_AVATAR_PIXELS:
            return None
        image.load()
        return image.convert("RGBA")
    except Exception:  # any undecodable avatar just means the placeholder
        return None


def _draw_avatar(
    card: Image.Image, name: str, avatar_png: bytes | None, centre: tuple[int, int], diameter: int
) -> None:
    s = SCALE
    cx, cy = centre
    ring = 7 * s
    draw = ImageDraw.Draw(card)
    outer = (
        cx - diameter // 2 - ring,
        cy - diameter // 2 - ring,
        cx + diameter // 2 + ring,
        cy + diameter // 2 + ring,
    )
    draw.ellipse(outer, fill=BACKGROUND)

    box = (cx - diameter // 2, cy - diameter // 2)
    avatar = _decode_avatar(avatar_png)
    if avatar is not None:
        fitted = ImageOps.fit(avatar, (diameter, diameter), Image.Resampling.LANCZOS)
        mask = Image.new("L", (diameter, diameter), 0)
        ImageDraw.Draw(mask).ellipse((0, 0, diameter - 1, diameter - 1), fill=255)
        card.paste(fitted, box, mask)
        return

    cleaned = _clean_name(name)
    colour = PLACEHOLDER_COLOURS[zlib.crc32(cleaned.encode()) % len(PLACEHOLDER_COLOURS)]
    draw.ellipse((*box, box[0] + diameter - 1, box[1] + diameter - 1), fill=(*colour, 255))
    initial = next((ch for ch in cleaned if ch.isalnum()), "?").upper()
    draw.text((cx, cy), initial, font=_font(88, bold=True), fill=(255, 255, 255, 255), anchor="mm")


def _draw_gradient_bar(card: Image.Image, box: tuple[int, int, int, int], radius: int) -> None:
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    gradient = Image.linear_gradient("L").rotate(90).resize((width, height))
    bar = Image.composite(
        Image.new("RGBA", (width, height), ACCENT_LIGHT),
        Image.new("RGBA", (width, height), ACCENT),
        gradient,
    )
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, width - 1, height - 1), radius=radius, fill=255)
    card.paste(bar, (left, top), mask)


def _example_avatar() -> bytes:
    """A drawn stand-in face for the docs image (no real person's avatar in the repository)."""
    size = 256
    image = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(image)
    for y in range(size):
        draw.line((0, y, size, y), fill=(40 + y // 3, 90 + y // 4, 200 - y // 3))
    skin, ink = (255, 214, 170), (40, 40, 40)
    draw.ellipse((78, 50, 178, 150), fill=skin)
    draw.ellipse((38, 160, 218, 400), fill=skin)
    draw.ellipse((105, 88, 117, 100), fill=ink)
    draw.ellipse((139, 88, 151, 100), fill=ink)
    draw.arc((108, 100, 148, 130), 20, 160, fill=ink, width=4)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


if __name__ == "__main__":
    # Regenerates the example in the docs: python -m bot.rankcard docs/rank-card.png
    import sys

    from bot.leveling import progress

    total = 5_321
    level, into, needed = progress(total)
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/rank-card.png")
    target.write_bytes(render_rank_card("Ada Lovelace", level, into, needed, 3, total, _example_avatar()))
    print(f"wrote {target}")


__all__ = ["FONT_DIR", "HEIGHT", "WIDTH", "render_rank_card"]
