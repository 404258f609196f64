from __future__ import annotations

import io

import anyio
import pytest
from PIL import Image, ImageDraw

from bot.rankcard import FONT_DIR, HEIGHT, WIDTH, _clean_name, _compact, _fit, _font, render_rank_card


def avatar_bytes(colour: tuple[int, int, int], fmt: str = "PNG", size: int = 128) -> bytes:
    image = Image.new("RGB", (size, size), colour)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def decode(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG"
    assert image.size == (WIDTH, HEIGHT) == (934, 282)
    assert image.mode == "RGBA"
    return image


AVATAR_CENTRE = (148, 141)  # where the card draws the avatar circle


def card(avatar: bytes | None, name: str = "Ada") -> Image.Image:
    return decode(render_rank_card(name, 10, 646, 1100, 3, 5321, avatar))


def test_card_with_avatar_shows_the_avatar_pixels() -> None:
    image = card(avatar_bytes((0, 200, 0)))
    assert image.getpixel(AVATAR_CENTRE)[:3] == (0, 200, 0)


def test_card_accepts_other_image_formats_for_the_avatar() -> None:
    image = card(avatar_bytes((200, 0, 0), fmt="JPEG"))
    red, green, blue, _ = image.getpixel((AVATAR_CENTRE[0] - 60, AVATAR_CENTRE[1]))
    assert red > 180 and green < 30 and blue < 30


@pytest.mark.parametrize("avatar", [None, b"", b"not an image at all", avatar_bytes((1, 2, 3))[:40]])
def test_missing_or_garbage_avatar_gets_the_placeholder(avatar: bytes | None) -> None:
    image = card(avatar, name="Ada")
    placeholder = card(None, name="Ada")
    # Same placeholder every time for the same name, and it is not the avatar colour of a real image.
    assert image.tobytes() == placeholder.tobytes()
    assert image.getpixel((AVATAR_CENTRE[0] - 60, AVATAR_CENTRE[1]))[3] == 255


def test_placeholder_shows_an_initial() -> None:
    # The letter is drawn in white on the coloured circle.
    image = card(None, name="  mira")
    circle = image.crop((AVATAR_CENTRE[0] - 40, AVATAR_CENTRE[1] - 40, AVATAR_CENTRE[0] + 40, AVATAR_CENTRE[1] + 40))
    assert (255, 255, 255, 255) in {pixel for _, pixel in circle.getcolors(maxcolors=100_000)}


def test_corners_are_transparent_for_rounded_card() -> None:
    image = card(None)
    assert image.getpixel((0, 0))[3] == 0
    assert image.getpixel((WIDTH // 2, HEIGHT // 2))[3] == 255


def bar_fill_right_edge(image: Image.Image) -> int:
    """The right-most column of the bar row that is bluish (the accent fill), scanning the bar's middle row."""
    y = 203
    last = 0
    for x in range(286, 880):
        red, _green, blue, _ = image.getpixel((x, y))
        if blue > 200 and blue - red > 40:
            last = x
    return last


def test_progress_bar_length_follows_progress() -> None:
    empty = decode(render_rank_card("A", 1, 0, 155, 1, 100, None))
    half = decode(render_rank_card("A", 1, 77, 155, 1, 177, None))
    full = decode(render_rank_card("A", 1, 155, 155, 1, 255, None))
    assert bar_fill_right_edge(empty) == 0
    assert 560 < bar_fill_right_edge(half) < 600  # 286 + 594 * 0.497 ~ 581
    assert bar_fill_right_edge(full) > 870


def test_extreme_numbers_do_not_break_rendering() -> None:
    decode(render_rank_card("A", 100_000, -5, 0, 0, 10**15, None))
    decode(render_rank_card("A", 0, 10**12, 10, 10**9, 0, None))


@pytest.mark.parametrize(
    "name",
    [
        "Zoë Δημήτρης Пётр",
        "名前のとても長いユーザー" * 10,
        "a" * 500,
        "\u202eevil\u200d\nname\t",
        "\n\t",
        "🙂🙂🙂",
    ],
)
def test_unicode_and_long_names_render(name: str) -> None:
    decode(render_rank_card(name, 5, 10, 100, 2, 1160, None))


def test_long_names_are_truncated_with_an_ellipsis() -> None:
    font = _font(40, bold=True)
    fitted = _fit("x" * 500, font, 600)
    assert fitted.endswith("…")
    assert font.getlength(fitted) <= 600
    assert font.getlength(fitted[:-1] + "x…") > 600  # the longest prefix that fits
    assert _fit("Ada", font, 600) == "Ada"


def test_name_cleaning() -> None:
    assert _clean_name("\u202eAda\u200b\n") == "Ada"
    assert _clean_name("\n\t ") == "Unknown"


def test_compact_numbers() -> None:
    assert _compact(999) == "999"
    assert _compact(9_999) == "9,999"
    assert _compact(12_345) == "12.3K"
    assert _compact(1_150_000) == "1.15M"
    assert _compact(2_500_000_000) == "2.50B"


def test_shipped_fonts_are_used() -> None:
    assert (FONT_DIR / "DejaVuSans.ttf").is_file() and (FONT_DIR / "DejaVuSans-Bold.ttf").is_file()
    assert _font(20).getname()[0] == "DejaVu Sans"


def test_oversized_avatar_is_refused_before_decoding() -> None:
    # A small file that claims a huge canvas (a decompression bomb shape) falls back to the placeholder.
    huge = Image.new("1", (5000, 5000))
    ImageDraw.Draw(huge).point((0, 0), fill=1)
    buffer = io.BytesIO()
    huge.save(buffer, format="PNG")
    assert card(buffer.getvalue()).tobytes() == card(None).tobytes()


@pytest.mark.anyio
async def test_renders_in_a_worker_thread() -> None:
    png = await anyio.to_thread.run_sync(render_rank_card, "Ada", 1, 2, 155, 1, 102, avatar_bytes((9, 9, 9)))
    decode(png)
