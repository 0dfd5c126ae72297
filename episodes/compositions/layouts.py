"""The layouts a composition can use and the formats it renders to: a fixed set, so every
thumbnail of the show follows the same few designs at the sizes each platform asks for.
The layout names are `CompositionLayout`'s choices.

A layout divides a canvas into cells, one per asset, in the assets' order. Cells tile the
whole canvas without gaps or overlaps; how they are arranged depends on whether the canvas
is landscape (wider than tall, or square) or portrait.
"""

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

# (left, top, right, bottom) in pixels, right and bottom exclusive, as Pillow takes boxes.
Box = tuple[int, int, int, int]

# The share of the canvas's long side the feature layout gives its strip of smaller images.
FEATURE_STRIP_SHARE = 1 / 3


@dataclass(frozen=True)
class OutputFormat:
    name: str
    width: int
    height: int
    description: str


FORMATS: dict[str, OutputFormat] = {
    output.name: output
    for output in (
        OutputFormat("youtube", 1280, 720, "YouTube video thumbnail"),
        OutputFormat("instagram_square", 1080, 1080, "Instagram feed post"),
        OutputFormat("instagram_story", 1080, 1920, "Instagram story"),
        OutputFormat("twitter", 1600, 900, "X (Twitter) post image"),
    )
}


def _splits(start: int, end: int, parts: int) -> list[tuple[int, int]]:
    """`parts` adjoining spans of [start, end); rounding spreads the leftover pixels."""
    edges = [start + round((end - start) * i / parts) for i in range(parts + 1)]
    return list(pairwise(edges))


def _row(box: Box, count: int) -> list[Box]:
    left, top, right, bottom = box
    return [(a, top, b, bottom) for a, b in _splits(left, right, count)]


def _column(box: Box, count: int) -> list[Box]:
    left, top, right, bottom = box
    return [(left, a, right, b) for a, b in _splits(top, bottom, count)]


def _portrait(width: int, height: int) -> bool:
    return height > width


def _single(width: int, height: int, count: int) -> list[Box]:
    return [(0, 0, width, height)]


def _split(width: int, height: int, count: int) -> list[Box]:
    """Two halves across the long side: side by side, or stacked on a portrait canvas."""
    canvas = (0, 0, width, height)
    return _column(canvas, 2) if _portrait(width, height) else _row(canvas, 2)


def _grid(width: int, height: int, count: int) -> list[Box]:
    """Two rows of up to two cells, filled in reading order; an asset alone in its row
    takes the whole row (three assets: two on top, one below; two: one per row)."""
    top_count = (count + 1) // 2
    top_row, bottom_row = _column((0, 0, width, height), 2)
    return _row(top_row, top_count) + _row(bottom_row, count - top_count)


def _feature(width: int, height: int, count: int) -> list[Box]:
    """The first asset large, the others in a strip along the right (below, on a portrait
    canvas) sharing it equally."""
    if _portrait(width, height):
        edge = round(height * (1 - FEATURE_STRIP_SHARE))
        return [(0, 0, width, edge), *_row((0, edge, width, height), count - 1)]
    edge = round(width * (1 - FEATURE_STRIP_SHARE))
    return [(0, 0, edge, height), *_column((edge, 0, width, height), count - 1)]


@dataclass(frozen=True)
class Layout:
    name: str
    min_assets: int
    max_assets: int
    arrange: Callable[[int, int, int], list[Box]]
    description: str

    def accepts(self, count: int) -> bool:
        return self.min_assets <= count <= self.max_assets

    def expected(self) -> str:
        """How many assets it takes, in words for an error message."""
        if self.min_assets == self.max_assets:
            plural = "" if self.min_assets == 1 else "s"
            return f"exactly {self.min_assets} image{plural}"
        return f"{self.min_assets} to {self.max_assets} images"

    def cells(self, width: int, height: int, count: int) -> list[Box]:
        if not self.accepts(count):
            raise ValueError(f"The {self.name} layout takes {self.expected()}, not {count}.")
        return self.arrange(width, height, count)


LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout("single", 1, 1, _single, "one image filling the frame"),
        Layout("split", 2, 2, _split, "two halves, side by side or stacked"),
        Layout("grid", 2, 4, _grid, "two to four images in a 2x2 grid"),
        Layout(
            "feature",
            2,
            4,
            _feature,
            "one large image and a strip of up to three smaller ones",
        ),
    )
}
