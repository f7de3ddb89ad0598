"""Draws two digits the way a person would in an image editor, as inputs for the README's
translate example: a dark "7" on a white 200x200 RGB canvas and a white "3" on black.

    python examples/draw_digits.py examples/digits
"""

import sys
from pathlib import Path

from PIL import Image, ImageDraw

out = Path(sys.argv[1] if len(sys.argv) > 1 else "examples/digits")
out.mkdir(parents=True, exist_ok=True)

seven = Image.new("RGB", (200, 200), "white")
pen = ImageDraw.Draw(seven)
pen.line([(55, 45), (150, 45), (95, 165)], fill=(20, 20, 30), width=16, joint="curve")
pen.line([(80, 105), (135, 105)], fill=(20, 20, 30), width=12)
seven.save(out / "seven_drawn.png")

three = Image.new("RGB", (160, 220), "black")
pen = ImageDraw.Draw(three)
pen.arc([40, 30, 120, 110], start=200, end=90, fill="white", width=14)
pen.arc([35, 100, 125, 190], start=270, end=160, fill="white", width=14)
three.save(out / "three_inverted.png")
print(f"wrote {out / 'seven_drawn.png'} and {out / 'three_inverted.png'}")
