"""`dot2torch render`: the author's diagram drawn by Graphviz, with shapes, parameters and problems."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import jsonschema
import pytest

from dot2torch.cli import main
from dot2torch.render import CJK_FONTS, run_dot
from dot2torch.schemas import RENDER, SCHEMAS

ROOT = Path(__file__).resolve().parent.parent
SEED = sorted((ROOT / "tests" / "fixtures" / "seed").glob("*.dot"))
SHIPPED = sorted((ROOT / "diagrams").glob("*.dot"))
SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"

needs_graphviz = pytest.mark.skipif(
    shutil.which("dot") is None and not os.environ.get("CI"),
    reason="Graphviz's dot is not installed (.ci/run installs it: apt-get install graphviz)",
)
CJK_FONT = next(iter(subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, check=False).stdout.split()),
                "") if shutil.which("fc-list") else ""
needs_cjk_font = pytest.mark.skipif(not CJK_FONT and not os.environ.get("CI"),
                                    reason="no CJK font (apt-get install fonts-wqy-zenhei)")

GOOD = """digraph Tiny {
    rankdir=BT
    node [shape=box, style=filled, fillcolor="#30638e", fontcolor=white]
    inp [label="输入\\n[BatchSize, 8]", shape=Mrecord]
    fc [label="Linear [8, 4]"]
    act [label="Relu"]
    oup [label="输出\\n[BatchSize, 4]", shape=Mrecord]
    inp -> fc -> act -> oup
}
"""

BAD = GOOD.replace('act [label="Relu"]', 'act [label="reshape([3])"]')

HOSTILE = """digraph Hostile {
    stylesheet="http://example.com/evil.css"
    inp [label="输入 [BatchSize, 8]", image="/etc/passwd", URL="javascript:alert(1)"]
    fc [label="Linear [8, 4]", shapefile="/etc/passwd", href="file:///etc/shadow", tooltip="javascript:alert(2)"]
    oup [label="输出 [BatchSize, 4]", fontname="/etc/passwd"]
    inp -> fc [edgeURL="javascript:alert(3)"]
    fc -> oup
}
"""


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def svg_nodes(path: Path) -> dict[str, ET.Element]:
    """Each node's <g class="node">, by its DOT id (the <title>)."""
    root = ET.parse(path).getroot()
    return {g.find(f"{SVG}title").text: g for g in root.iter(f"{SVG}g") if g.get("class") == "node"}


def texts(g: ET.Element) -> str:
    return "\n".join(t.text or "" for t in g.iter(f"{SVG}text"))


def fills(g: ET.Element) -> set[str]:
    return {e.get("fill") for e in g.iter() if e.get("fill") not in (None, "none")}


@needs_graphviz
def test_svg_nodes_carry_shapes_and_parameters(tmp_path, capsys):
    (tmp_path / "tiny.dot").write_text(GOOD, encoding="utf-8")
    out = tmp_path / "tiny.svg"
    code, printed, _ = run(capsys, "render", str(tmp_path / "tiny.dot"), "-o", str(out))
    assert code == 0, printed
    assert printed.strip() == f"wrote {out}"
    nodes = svg_nodes(out)
    assert "[1, 8]" in texts(nodes["inp"])
    assert "[1, 4] · 36 params" in texts(nodes["fc"])  # 8·4 weights + 4 biases
    assert "输入" in texts(nodes["inp"])
    assert "#30638e" in fills(nodes["fc"])  # the author's colours kept


@needs_graphviz
def test_failing_node_is_red_with_the_message(tmp_path, capsys):
    (tmp_path / "bad.dot").write_text(BAD, encoding="utf-8")
    out = tmp_path / "bad.svg"
    code, printed, _ = run(capsys, "render", str(tmp_path / "bad.dot"), "-o", str(out))
    assert code == 1  # a problem found; the drawing is written all the same
    assert "D2T303" in printed and out.exists()
    act = svg_nodes(out)["act"]
    assert "#f8cccc" in fills(act) and "#30638e" not in fills(act)
    assert "D2T303" in texts(act)
    titles = [a.get(f"{XLINK}title") for a in act.iter(f"{SVG}a")]
    assert any(t and "D2T303" in t and "reshape" in t for t in titles)
    assert "#30638e" in fills(svg_nodes(out)["fc"])


@needs_graphviz
def test_hostile_attributes_are_dropped_with_a_warning(tmp_path, capsys):
    (tmp_path / "hostile.dot").write_text(HOSTILE, encoding="utf-8")
    out = tmp_path / "hostile.svg"
    _, printed, _ = run(capsys, "render", str(tmp_path / "hostile.dot"), "-o", str(out), "--format", "json")
    document = json.loads(printed)
    jsonschema.Draft202012Validator(RENDER).validate(document)
    assert document["output"] == str(out) and document["format"] == "svg"
    dropped = [d for d in document["diagnostics"] if d["code"] == "D2T620"]
    assert all(d["severity"] == "warning" for d in dropped)
    said = " ".join(d["message"] for d in dropped)
    for attribute in ("image=", "URL=", "shapefile=", "href=", "tooltip=", "fontname=", "edgeURL=", "stylesheet="):
        assert attribute in said
    assert {d["node"] for d in dropped} >= {"inp", "fc", "oup"}
    text = out.read_text(encoding="utf-8")
    for leak in ("passwd", "shadow", "javascript", "example.com", "alert"):
        assert leak not in text
    assert "root:" not in text


def test_unknown_suffix_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "tiny.dot").write_text(GOOD, encoding="utf-8")
    code, _, err = run(capsys, "render", str(tmp_path / "tiny.dot"), "-o", str(tmp_path / "tiny.gif"))
    assert code == 2 and ".svg, .png, .pdf" in err


def test_missing_dot_is_one_line(tmp_path, capsys, monkeypatch):
    (tmp_path / "tiny.dot").write_text(GOOD, encoding="utf-8")
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, out, err = run(capsys, "render", str(tmp_path / "tiny.dot"), "-o", str(tmp_path / "tiny.svg"))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "apt-get install graphviz" in err and "brew install graphviz" in err


@needs_graphviz
def test_standard_input_and_json_png(tmp_path, capsys, monkeypatch):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(GOOD.encode("utf-8"))))
    out = tmp_path / "tiny.png"
    code, printed, _ = run(capsys, "render", "-", "-o", str(out), "--format", "json")
    assert code == 0
    document = json.loads(printed)
    jsonschema.Draft202012Validator(SCHEMAS["render"]).validate(document)
    assert document == {"output": str(out), "format": "png", "diagnostics": []}
    assert out.read_bytes().startswith(b"\x89PNG")


@needs_graphviz
def test_expand_draws_blocks_as_clusters(tmp_path, capsys):
    out = tmp_path / "resnet.svg"
    code, printed, _ = run(capsys, "render", str(ROOT / "diagrams" / "resnet18.dot"), "--expand", "-o", str(out))
    assert code == 0, printed
    root = ET.parse(out).getroot()
    clusters = [g for g in root.iter(f"{SVG}g") if g.get("class") == "cluster"]
    assert len(clusters) >= 8
    assert any(n.startswith("convblock1/") for n in svg_nodes(out))


# ---- glyphs -------------------------------------------------------------------------------


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """A PNG's width, height and rows of raw pixel bytes (8-bit, non-interlaced, as cairo writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0
            channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = previous[x]
            c = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def ink(data: bytes) -> int:
    """How many pixels are dark (the text and the node's outline)."""
    width, _, rows = png_pixels(data)
    channels = len(rows[0]) // width
    return sum(1 for row in rows for x in range(0, len(row), channels)
               if sum(row[x:x + min(3, channels)]) < 3 * 128 and (channels < 4 or row[x + 3] > 128))


def one_node(label: str) -> str:
    return f'digraph G {{ a [label="{label}", shape=box, fontname="{CJK_FONTS}", fontsize=28] }}'


@needs_graphviz
@needs_cjk_font
def test_chinese_labels_are_drawn_with_glyphs(tmp_path, monkeypatch):
    """输入 drawn with the CJK font differs from the same label drawn where only a Latin font
    is available (pango's empty boxes), and has more ink than a blank label."""
    with_font = run_dot(one_node("输入"), "png")[0]
    blank = run_dot(one_node(" "), "png")[0]
    assert with_font and blank
    latin = next((f for f in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",) if Path(f).exists()), None)
    if latin is None:
        pytest.skip("no DejaVu Sans to draw without a CJK font")
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    (fonts / "DejaVuSans.ttf").symlink_to(latin)
    config = tmp_path / "fonts.conf"
    config.write_text(f'<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                      f"<dir>{fonts}</dir><cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>")
    monkeypatch.setenv("FONTCONFIG_FILE", str(config))
    without_font = run_dot(one_node("输入"), "png")[0]
    assert without_font
    assert png_pixels(with_font) != png_pixels(without_font)
    assert ink(with_font) > ink(blank) + 100
    # and the glyphs are these characters' own: a different word draws differently
    monkeypatch.delenv("FONTCONFIG_FILE")
    assert png_pixels(run_dot(one_node("输出"), "png")[0]) != png_pixels(with_font)


# ---- every diagram ------------------------------------------------------------------------


@pytest.mark.slow
@needs_graphviz
@pytest.mark.parametrize("path", [*SHIPPED, *SEED], ids=lambda p: str(p.relative_to(ROOT)))
@pytest.mark.parametrize("suffix", ["svg", "png"])
def test_every_diagram_renders(path, suffix, tmp_path, capsys):
    out = tmp_path / f"drawing.{suffix}"
    code, printed, err = run(capsys, "render", str(path), "-o", str(out), "--format", "json")
    document = json.loads(printed)
    jsonschema.Draft202012Validator(RENDER).validate(document)
    assert document["output"] == str(out) and out.stat().st_size > 0, err
    errors = [d for d in document["diagnostics"] if d["severity"] == "error"]
    assert code == (1 if errors else 0)
    assert not [d for d in document["diagnostics"] if d["code"] in ("D2T621", "D2T622") and d["severity"] == "error"]
    if suffix == "svg":
        text = out.read_text(encoding="utf-8")
        for d in errors:  # every error is drawn: at its node, or in the note box
            assert d["code"] in text


@needs_graphviz
def test_html_label_with_an_image_is_drawn_as_the_id(tmp_path, capsys):
    (tmp_path / "h.dot").write_text('digraph H { inp [label="输入 [BatchSize, 8]"]; '
                                    'fc [label=<<TABLE><TR><TD><IMG SRC="/etc/passwd"/></TD></TR></TABLE>>]; '
                                    'oup [label="输出 [BatchSize, 8]"]; inp -> fc -> oup }', encoding="utf-8")
    out = tmp_path / "h.svg"
    _, printed, _ = run(capsys, "render", str(tmp_path / "h.dot"), "-o", str(out))
    assert "D2T620" in printed and "passwd" not in out.read_text(encoding="utf-8")
    assert texts(svg_nodes(out)["fc"]).startswith("fc")


EDGE_HTML = """digraph Edges {
  a [label="input [BatchSize, 4]"]
  b [label="{Linear [4, 3]|fc}", shape=record]
  c [label="Linear [5, 2]", shape=point, fixedsize=true, width=0.05]
  a -> b [label=<<B>bold</B>>]
  a -> c [label="<<TABLE HREF='javascript:alert(1)' ID='x&quot;onload='>hi</TABLE>>"]
}
"""


@needs_graphviz
def test_found_in_review_edge_labels_records_and_hidden_failures(capsys, tmp_path: Path) -> None:
    """Edge text is a quoted string (never HTML: no link), a record's fields stay as drawn with
    what render adds beside them, and a failing node's shape cannot hide its message."""
    dot = tmp_path / "edges.dot"
    dot.write_text(EDGE_HTML)
    out = tmp_path / "edges.svg"
    code, _, _ = run(capsys, "render", str(dot), "-o", str(out))
    assert code == 1 and out.exists()  # c's Linear [5, 2] fails; the drawing is written
    text = out.read_text()
    assert "xlink:href" not in text and 'onload="' not in text and "&lt;B&gt;bold&lt;/B&gt;" in text
    nodes = svg_nodes(out)
    assert texts(nodes["b"]).startswith("Linear [4, 3]\nfc\nD2T201")  # its fields kept, the message beside
    assert "D2T301" in texts(nodes["c"]) and "#f8cccc" in fills(nodes["c"])  # drawn as a box, the message shown


def test_render_usage_errors_are_one_line(capsys, tmp_path: Path) -> None:
    lenet = str(ROOT / "diagrams" / "lenet.dot")
    for argv, says in ([["--timeout", "nan"], "--timeout takes a number of seconds above 0"],
                       [["--timeout", "inf"], "--timeout takes a number of seconds above 0"]):
        code, _, err = run(capsys, "render", lenet, "-o", str(tmp_path / "x.svg"), *argv)
        assert code == 2 and says in err and "Traceback" not in err
    (tmp_path / "folder.svg").mkdir()
    code, _, err = run(capsys, "render", lenet, "-o", str(tmp_path / "folder.svg"))
    assert code == 2 and f"-o {tmp_path / 'folder.svg'} is a folder" in err
    code, _, err = run(capsys, "render", lenet, "-o", str(tmp_path / "missing" / "x.svg"))
    assert code == 2 and f"no such folder: {tmp_path / 'missing'}" in err and not (tmp_path / "missing").exists()


def test_render_json_says_dot_is_missing(capsys, monkeypatch, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, out, _ = run(capsys, "render", str(ROOT / "diagrams" / "lenet.dot"), "-o", str(tmp_path / "x.svg"),
                       "--format", "json")
    document = json.loads(out)
    jsonschema.validate(document, RENDER)
    assert code == 1 and document["output"] is None and document["diagnostics"][0]["code"] == "D2T621"
    assert document["diagnostics"][0]["message"].startswith("dot (Graphviz) is not installed")
