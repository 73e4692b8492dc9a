#!/usr/bin/env python3
"""Renders a terminal transcript (plain text) as an SVG picture for the README.

    python3 docs/terminal_svg.py transcript.txt > docs/quickstart.svg

Lines are drawn in a monospace font on a dark background; section headers, the table header,
alerts and error lines get colours. Nothing is invented: the text is the program's output.
"""
import html
import sys

CHAR_W, LINE_H, PAD = 7.8, 17, 14


def colour(line: str) -> tuple[str, str]:
    if line.startswith("$ "):
        return "#8ae234", "bold"
    if line.startswith("=="):
        return "#729fcf", "bold"
    if line.startswith("FUNCTION") or line.lstrip().startswith("STREAM"):
        return "#eeeeec", "bold"
    if "FIRING" in line or line.startswith("🚨"):
        return "#ef2929", "bold"
    if " ERROR " in line[:40]:
        return "#f57900", "normal"
    return "#d3d7cf", "normal"


def main() -> None:
    lines = open(sys.argv[1], encoding="utf-8").read().rstrip("\n").split("\n")
    width = int(max(len(l) for l in lines) * CHAR_W + 2 * PAD)
    height = int(len(lines) * LINE_H + 2 * PAD + 22)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="13">',
        f'<rect width="{width}" height="{height}" rx="8" fill="#1e1e1e"/>',
        '<circle cx="16" cy="14" r="5" fill="#ff5f56"/><circle cx="32" cy="14" r="5" fill="#ffbd2e"/>'
        '<circle cx="48" cy="14" r="5" fill="#27c93f"/>',
    ]
    for i, line in enumerate(lines):
        fill, weight = colour(line)
        y = PAD + 22 + i * LINE_H
        out.append(
            f'<text x="{PAD}" y="{y}" fill="{fill}" font-weight="{weight}" xml:space="preserve">'
            f"{html.escape(line)}</text>"
        )
    out.append("</svg>")
    print("\n".join(out))


if __name__ == "__main__":
    main()
