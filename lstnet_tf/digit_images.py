"""Any digit image -> the MNIST (28x28) or USPS (16x16) format, the way the datasets were made.

1. Grayscale: luminance 0.299 R + 0.587 G + 0.114 B (EXIF orientation applied; a transparent
   background is filled with white under dark strokes, with black under bright ones).
2. Polarity: the datasets have a dark background (-1) and a bright digit. If the median of the
   border pixels is brighter than the middle of the image's grey range (min + max) / 2, the
   background is bright and the image is inverted.
3. Levels: the background level is the median of the border pixels darker than that middle,
   raised by three robust standard deviations (1.4826 x median absolute deviation) of them, so
   that paper texture and JPEG noise become background; it maps to 0 and the brightest pixel
   to 1 (clipped). A uniform image is rejected ("no digit").
4. Bounding box: the rows and columns holding pixels above 0.25; runs of rows (or columns)
   separated from the rest by an empty gap and holding under 2% of the digit's ink are dropped
   as specks; the box then grows over the faint antialiased rim (pixels above 0), by at most
   5% of its size per side. The digit is cropped to it.
5. Size and position (antialiased Lanczos resampling, Pillow):
   - MNIST (28x28): the box is scaled to fit a 20x20 box preserving its aspect ratio, pasted
     into 28x28 and shifted by whole pixels so that its centre of mass is at pixel (14, 14),
     the NIST/MNIST recipe (MNIST's own test digits have their centre of mass within half a
     pixel of (14, 14) and a 20-pixel box).
   - USPS (16x16): the box is scaled so that its longer side fills the 16x16 frame, preserving
     its aspect ratio, and centred (USPS digits were size-normalised to 16x16).
6. The result is mapped to [-1, 1] (background -1): an (H, W, 1) float32 array.

A real MNIST or USPS test image saved as an 8-bit PNG comes back (nearly) unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from lstnet_tf.domains import MNIST, USPS
from lstnet_tf.domains import domain as domain_of

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MNIST_BOX = 20
MNIST_CENTRE = 14.0
INK_THRESHOLD = 0.25  # bounding box: pixels above this, in [0, 1] after the level mapping
SPECK_FRACTION = 0.02  # separated end runs with less ink than this are dropped
RIM_FRACTION = 0.05  # the box grows over faint pixels by at most this fraction per side
NOISE_SIGMAS = 3.0


class InputImageError(ValueError):
    """One input cannot be translated (unreadable, corrupt, blank); the message says why."""


def preprocess(image: Image.Image | np.ndarray, domain: str) -> np.ndarray:
    """``image`` in the format of ``domain`` ("mnist" 28x28 or "usps" 16x16): an (H, W, 1)
    float32 array in [-1, 1], background -1, following the recipe in the module docstring.

    ``image`` is a Pillow image (any mode) or an array (H, W), (H, W, 1), (H, W, 3) or
    (H, W, 4) in any value range (uint8 0..255, floats in [0, 1] or [-1, 1], ...): only
    relative grey levels matter. Raises ``InputImageError`` when no digit can be found.
    """
    domain_of(domain)  # a ValueError for an unknown domain
    ink = _ink(grayscale(image))
    crop = _crop_to_digit(ink)
    framed = _mnist_frame(crop) if domain == "mnist" else _usps_frame(crop)
    return (framed * 2.0 - 1.0).astype(np.float32)[..., None]


_LUMA = np.array([0.299, 0.587, 0.114])


def grayscale(image) -> np.ndarray:
    """A 2-D float64 luminance array, in the image's own value scale."""
    if isinstance(image, Image.Image):
        return _pil_grayscale(image)
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] in (3, 4) and array.dtype == np.uint8:
        return _pil_grayscale(Image.fromarray(array))
    array = array.astype(np.float64)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    elif array.ndim == 3 and array.shape[-1] in (3, 4):
        array = array[..., :3] @ _LUMA
    if array.ndim != 2:
        raise InputImageError(f"expected an (H, W[, 1|3|4]) image array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InputImageError("the image array holds NaN or infinite values")
    return array


def _pil_grayscale(image: Image.Image) -> np.ndarray:
    image = ImageOps.exif_transpose(image)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return np.asarray(image, dtype=np.float64)
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float64)
        gray, alpha = rgba[..., :3] @ _LUMA, rgba[..., 3] / 255.0
        if alpha.min() < 1.0:
            opaque = alpha > 0.5
            # Fill the transparent background with the colour the strokes are not.
            fill = 255.0 if (opaque.any() and gray[opaque].mean() < 127.5) else 0.0
            gray = alpha * gray + (1.0 - alpha) * fill
        return gray
    if image.mode != "L":
        image = image.convert("RGB")
        return np.asarray(image, dtype=np.float64) @ _LUMA
    return np.asarray(image, dtype=np.float64)


def _border(array: np.ndarray) -> np.ndarray:
    return np.concatenate([array[0], array[-1], array[1:-1, 0], array[1:-1, -1]])


def _ink(gray: np.ndarray) -> np.ndarray:
    """Polarity made dark-background/bright-digit, levels mapped to [0, 1] (background 0)."""
    low, high = float(gray.min()), float(gray.max())
    if high - low <= 1e-6 * max(1.0, abs(high), abs(low)):
        raise InputImageError("no digit: the image is a single uniform grey level")
    middle = (low + high) / 2.0
    if np.median(_border(gray)) > middle:
        gray = high + low - gray  # bright background: invert
    border = _border(gray)
    background = border[border <= middle]
    level = float(np.median(background))
    spread = float(np.median(np.abs(background - level))) * 1.4826
    floor = min(level + NOISE_SIGMAS * spread, middle)
    return np.clip((gray - floor) / (high - floor), 0.0, 1.0)


def _ink_span(profile: np.ndarray) -> tuple[int, int]:
    """[start, stop) of the rows (or columns) with ink, ignoring separated specks at the ends."""
    nonzero = profile > 0
    edges = np.flatnonzero(np.diff(np.concatenate([[0], nonzero.astype(np.int8), [0]])))
    runs = list(zip(edges[0::2], edges[1::2]))
    total = profile.sum()
    significant = [(a, b) for a, b in runs if profile[a:b].sum() >= SPECK_FRACTION * total]
    kept = significant or runs
    return int(kept[0][0]), int(kept[-1][1])


def _crop_to_digit(ink: np.ndarray) -> np.ndarray:
    strong = np.where(ink > INK_THRESHOLD, ink, 0.0)
    if not strong.any():
        raise InputImageError("no digit: nothing stands out from the background")
    top, bottom = _ink_span(strong.sum(axis=1))
    left, right = _ink_span(strong.sum(axis=0))
    rim = max(1, round(RIM_FRACTION * max(bottom - top, right - left)))
    faint = ink > 0
    rows, cols = ink.shape
    for _ in range(rim):
        grown = False
        if top > 0 and faint[top - 1, left:right].any():
            top, grown = top - 1, True
        if bottom < rows and faint[bottom, left:right].any():
            bottom, grown = bottom + 1, True
        if left > 0 and faint[top:bottom, left - 1].any():
            left, grown = left - 1, True
        if right < cols and faint[top:bottom, right].any():
            right, grown = right + 1, True
        if not grown:
            break
    return ink[top:bottom, left:right]


def _resized(array: np.ndarray, longest: int) -> np.ndarray:
    """``array`` scaled so that its longer side is ``longest``, aspect ratio kept."""
    height, width = array.shape
    scale = longest / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size == (width, height):
        return array.copy()
    image = Image.fromarray(array.astype(np.float32))
    resized = image.resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)


def _mnist_frame(crop: np.ndarray) -> np.ndarray:
    patch = _resized(crop, MNIST_BOX)
    side = MNIST.image_size
    height, width = patch.shape
    mass = patch.sum()
    centre_y = (patch.sum(axis=1) @ np.arange(height)) / mass
    centre_x = (patch.sum(axis=0) @ np.arange(width)) / mass
    top = int(np.clip(np.floor(MNIST_CENTRE - centre_y + 0.5), 0, side - height))
    left = int(np.clip(np.floor(MNIST_CENTRE - centre_x + 0.5), 0, side - width))
    frame = np.zeros((side, side))
    frame[top:top + height, left:left + width] = patch
    return frame


def _usps_frame(crop: np.ndarray) -> np.ndarray:
    side = USPS.image_size
    patch = _resized(crop, side)
    height, width = patch.shape
    top, left = (side - height) // 2, (side - width) // 2
    frame = np.zeros((side, side))
    frame[top:top + height, left:left + width] = patch
    return frame



def read_image(path: Path) -> Image.Image:
    """The decoded image at ``path``; ``InputImageError`` (one-line reason) if it cannot be."""
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except UnidentifiedImageError:
        raise InputImageError("not an image Pillow can read (expected PNG or JPEG)") from None
    except Image.DecompressionBombError as error:
        raise InputImageError(f"image too large to decode safely ({error})") from None
    except PermissionError:
        raise InputImageError("cannot be read (permission denied)") from None
    except IsADirectoryError:
        raise InputImageError("is a folder") from None
    except FileNotFoundError:
        raise InputImageError("no such file") from None
    except Exception as error:  # noqa: BLE001 - Pillow raises OSError, SyntaxError, ValueError...
        detail = " ".join(str(error).split()) or type(error).__name__
        raise InputImageError(f"corrupt or truncated image ({detail})") from None
