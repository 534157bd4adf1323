"""Simulated writers: people who each write every digit their own way, for measuring only.

A writer is a handwriting font, traced as a pen would trace it, in a fixed hand: a slant, a
tilt, a width, a pen width and a size of their own, varied a little from drawing to drawing
(and wobbling a little, as a hand does). The font's glyph is thinned to its centre line: the pen's
strokes, which the Draw page reads with one pen (`strokes.strokes_to_mnist`) as it does a canvas
drawing.

Why this set is independent of training: no font is ever used in training (training sees MNIST,
distorted by `mnist_core.augment`), so every shape here, the fonts' 1s, 4s, 7s and 9s included,
is one the model has never met, and the code that makes it shares nothing with the code that
makes training batches but the canvas' own pen. Writers are held out whole: `VALIDATION_FONTS`
make the writers on which settings may be chosen, the other fonts the test writers, so no
choice is ever made on a test writer's shapes.

How it differs from real people, honestly: typeset glyphs are tidier and more alike from one
drawing to the next than a hand is; no stroke here is lost, overdrawn, or cut off by the edge;
the fonts' forms are what their designers drew, not a survey of how people write (few have a
European 1 with a long flag, a crossed 7 or a 9 whose tail hooks left). Real drawings remain
the only real test; this one is honest about what the training never saw.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_core.drawn import DrawnSet, DrawnSetError
from mnist_core.pixels import to_pixels
from mnist_core.preprocess import to_mnist
from mnist_core.strokes import (
    DIGIT_SUPERSAMPLING,
    Stroke,
    redraw,
    render_strokes,
    strokes_to_mnist,
)
from scripts.drawn_synthesis import HANDWRITING_FONTS, font_glyph, place, skeleton_segments, wobble

# Debian package -> more handwriting fonts, only for writers (see the Makefile's FONTS).
WRITER_ONLY_FONTS = {
    "fonts-ecolier-court": ("/usr/share/fonts/truetype/ecolier-court/Ecolier-court.ttf",),
    "fonts-klee": (
        "/usr/share/fonts/truetype/klee/KleeOne-Regular.ttf",
        "/usr/share/fonts/truetype/klee/KleeOne-SemiBold.ttf",
    ),
    "fonts-seto": ("/usr/share/fonts/truetype/seto/setofont.ttf",),
    "fonts-kiloji": tuple(
        f"/usr/share/fonts/truetype/kiloji/kiloji{variant}.ttf"
        for variant in ("", "_b", "_d", "_p")
    ),
    "fonts-havana": ("/usr/share/fonts/opentype/havana/Havana-Regular.otf",),
    "fonts-lobster": ("/usr/share/fonts/opentype/lobster/lobster.otf",),
    "fonts-leckerli-one": ("/usr/share/fonts/truetype/leckerli-one/LeckerliOne-Regular.ttf",),
}
WRITER_FONTS = {**HANDWRITING_FONTS, **WRITER_ONLY_FONTS}
# One font in three, across the packages: the writers settings may be chosen on.
VALIDATION_FONTS = frozenset(
    font for i, font in enumerate(f for fs in WRITER_FONTS.values() for f in fs) if i % 3 == 1
)
# More fonts for the validation writers only, so that choices see flagged and footed 1s, open
# 4s and hooked 9s that the fonts above give only to the test writers; the test writers stay
# exactly as they were.
VALIDATION_ONLY_FONTS = {
    "fonts-nanum-extra": tuple(
        f"/usr/share/fonts/truetype/nanum/{name}.ttf"
        for name in ("NanumBarunpenR", "NanumBarunpenB", "NanumBrush", "NanumPen")
    ),
    "fonts-fantasque-sans": tuple(
        f"/usr/share/fonts/truetype/fantasque-sans/Normal/TTF/FantasqueSansMono-{style}.ttf"
        for style in ("Regular", "Italic", "Bold", "BoldItalic")
    ),
    "fonts-navilu": ("/usr/share/fonts/truetype/Navilu/Navilu.ttf",),
    "fonts-aoyagi-soseki": ("/usr/share/fonts/truetype/aoyagi-soseki/aoyagi-soseki.ttf",),
}

WRITERS_PER_FONT = 2
DEFAULT_PER_DIGIT = 8  # drawings of each digit by each writer
DEFAULT_SEED = 4242

# A writer's own hand, drawn once per writer.
SLANT = (-0.35, 0.35)  # shear: horizontal shift per unit of height
TILT_DEGREES = (-10, 10)
ASPECT = (0.8, 1.2)
PEN_WIDTH_PX = (8, 30)  # the Draw page's thinnest pen to a marker beyond its thickest
HEIGHT_PX = (110, 240)
MAX_WOBBLE = (0.0, 0.03)
# How much one drawing differs from the writer's usual, each way.
JITTER = {"slant": 0.05, "tilt": 3.0, "aspect": 0.05, "pen": 0.1, "height": 0.12}
_TRACE_HEIGHT = 56  # glyphs are shrunk to this height, then thinned at 4x (skeleton_segments)
_TRACE_THICKENING_PX = 2  # at the glyph's size: hairlines survive the shrinking, loops stay open


@dataclass(frozen=True)
class Writer:
    """One simulated person: a font, written in a hand of their own."""

    name: str
    font: str
    slant: float
    tilt: float
    aspect: float
    pen: float
    height: float
    max_wobble: float

    @classmethod
    def random(cls, name: str, font: str, rng: np.random.Generator) -> Writer:
        return cls(
            name=name,
            font=font,
            slant=rng.uniform(*SLANT),
            tilt=rng.uniform(*TILT_DEGREES),
            aspect=rng.uniform(*ASPECT),
            pen=rng.uniform(*PEN_WIDTH_PX),
            height=rng.uniform(*HEIGHT_PX),
            max_wobble=rng.uniform(*MAX_WOBBLE),
        )

    def draw(
        self, digit: int, rng: np.random.Generator, supersampling: int = DIGIT_SUPERSAMPLING
    ) -> np.ndarray:
        """One drawing of `digit` as the Draw page reads it (`strokes.strokes_to_mnist`):
        (28, 28) float32 in [0, 1]."""
        return strokes_to_mnist(self.strokes(digit, rng)[0], supersampling=supersampling)

    def strokes(self, digit: int, rng: np.random.Generator) -> tuple[list[Stroke], float]:
        """One drawing of `digit`: its strokes on the canvas (short segments along the glyph's
        centre line) and the width of the writer's pen."""
        height = self.height * (1 + rng.uniform(-1, 1) * JITTER["height"])
        pen = min(self.pen * (1 + rng.uniform(-1, 1) * JITTER["pen"]), height / 4)
        pose = (
            self.tilt + rng.uniform(-1, 1) * JITTER["tilt"],
            self.slant + rng.uniform(-1, 1) * JITTER["slant"],
            self.aspect * (1 + rng.uniform(-1, 1) * JITTER["aspect"]),
        )
        points = wobble(_centre_line(self.font, digit).reshape(-1, 2), rng, self.max_wobble)
        points = place(points, height, pen / 2, rng, pose)
        return points.reshape(-1, 2, 2).tolist(), pen


def writer_fonts(validation: bool) -> tuple[str, ...]:
    """The installed fonts of the validation writers, or of the test writers; a DrawnSetError
    names the packages to install if any font is missing."""
    packages = {**WRITER_FONTS, **(VALIDATION_ONLY_FONTS if validation else {})}
    missing = [
        package
        for package, files in packages.items()
        if not all(os.path.isfile(file) for file in files)
    ]
    if missing:
        raise DrawnSetError(f"handwriting fonts are missing: apt-get install {' '.join(missing)}")
    fonts = (font for files in WRITER_FONTS.values() for font in files)
    chosen = tuple(font for font in fonts if (font in VALIDATION_FONTS) == validation)
    extra = (font for files in VALIDATION_ONLY_FONTS.values() for font in files)
    return chosen + tuple(extra) if validation else chosen


def make_writers(fonts: tuple[str, ...], seed: int) -> list[Writer]:
    """`WRITERS_PER_FONT` writers for each font, the same ones for the same seed."""
    rng = np.random.default_rng(seed)
    return [
        Writer.random(f"{Path(font).stem}-{n + 1}", font, rng)
        for font in fonts
        for n in range(WRITERS_PER_FONT)
    ]


def font_of(source: str) -> str:
    """The font (its file's stem) of a drawing whose source is "writer:<name>", as
    `build_writers_set` names it: writers are named after their font and a number."""
    return source.removeprefix("writer:").rsplit("-", 1)[0]


def build_writers_set(
    writers: list[Writer],
    per_digit: int = DEFAULT_PER_DIGIT,
    seed: int = DEFAULT_SEED,
    shown: bool = False,
    supersampling: int = DIGIT_SUPERSAMPLING,
) -> DrawnSet:
    """Every writer's `per_digit` drawings of each digit as the Draw page reads them, drawn
    `supersampling` times finer than the 28x28; the canvases show them redrawn with one pen
    (`strokes.redraw`), or with `shown` as the canvas shows them with the writer's own pen, and
    then the digits are those pictures' (`preprocess.to_mnist`). `sources` names the writer."""
    rng = np.random.default_rng(seed)
    canvases, digits, labels, sources = [], [], [], []
    for writer in writers:
        for digit in range(10):
            for _ in range(per_digit):
                strokes, pen = writer.strokes(digit, rng)
                if shown:
                    canvases.append(render_strokes(strokes, width=pen)[:, :, 0])
                    digits.append(to_mnist(canvases[-1]))
                else:
                    canvases.append(redraw(strokes))
                    digits.append(strokes_to_mnist(strokes, supersampling=supersampling))
                labels.append(digit)
                sources.append(f"writer:{writer.name}")
    return DrawnSet(
        np.stack(canvases),
        to_pixels(np.stack(digits)),
        np.array(labels, np.uint8),
        np.array(sources, dtype=str),
    )


@functools.lru_cache(maxsize=1024)
def _centre_line(font: str, digit: int) -> np.ndarray:
    """The centre line of `digit` in `font`, as segments (see `skeleton_segments`)."""
    glyph = font_glyph(font, digit, _TRACE_THICKENING_PX)
    rows, columns = glyph.shape
    width = max(1, round(columns * _TRACE_HEIGHT / rows))
    small = Image.fromarray(glyph).resize((width, _TRACE_HEIGHT), Image.Resampling.BOX)
    return skeleton_segments(np.asarray(small))
