"""Which of an author's DOT attributes `render` hands to Graphviz.

The diagram is untrusted: an attribute is kept only if it is on an allow-list of layout and
style attributes that make Graphviz neither open a file nor write a link, and its value does
not name a scheme (`javascript:`, `file:`, `data:`, `http:`...). Everything else is dropped,
each drop a warning at its node (D2T620), so that what is not drawn is said.
"""

from __future__ import annotations

import re

from .attributes import GRAPHVIZ_EDGE, GRAPHVIZ_NODE

_COMMON = {
    "label", "xlabel", "fontname", "fontsize", "fontcolor", "color", "fillcolor", "style", "penwidth",
    "colorscheme", "gradientangle", "labelloc", "nojustify", "layer", "bgcolor", "pencolor",
}
NODE = _COMMON | {
    "shape", "width", "height", "fixedsize", "margin", "peripheries", "orientation", "regular", "sides", "skew",
    "distortion", "group", "ordering", "sortv", "xlp", "pos", "pin", "z",
}
EDGE = _COMMON | {
    "headlabel", "taillabel", "arrowhead", "arrowtail", "arrowsize", "dir", "constraint", "weight", "minlen", "len",
    "headport", "tailport", "samehead", "sametail", "labelangle", "labeldistance", "labelfloat", "labelfontcolor",
    "labelfontname", "labelfontsize", "decorate", "headclip", "tailclip", "lhead", "ltail", "lp", "head_lp",
    "tail_lp", "arrowType",
}
GRAPH = _COMMON | {
    "rankdir", "ranksep", "nodesep", "splines", "labeljust", "concentrate", "compound", "newrank", "ordering",
    "margin", "pad", "center", "clusterrank", "remincross", "mclimit", "nslimit", "nslimit1", "searchsize",
    "outputorder", "charset", "forcelabels", "esep", "sep", "rotate", "landscape", "orientation", "quantum",
    "packmode", "pack", "rank", "size", "ratio", "dpi",
}
CLUSTER = _COMMON | {"labeljust", "margin", "rank", "sortv"}  # a digraph of several, drawn as a cluster
# Graphviz attributes of a graph that read files, make links or name things in the output.
GRAPH_UNSAFE = {"URL", "href", "target", "tooltip", "id", "class", "comment", "imagepath", "fontpath", "stylesheet",
                "layout", "image", "shapefile", "resolution", "viewport", "page", "pagedir", "layers", "layerselect",
                "fontnames", "root", "truecolor", "notranslate", "label_scheme", "xdotversion", "_background",
                "postaction", "inputscale"}
# What Graphviz would have used, so that dropping it is said (anything else Graphviz ignores anyway)
GRAPHVIZ = GRAPHVIZ_NODE | GRAPHVIZ_EDGE | GRAPH_UNSAFE | GRAPH | {"edgeURL", "headURL", "tailURL", "labelURL"}
TEXT = {"label", "xlabel", "headlabel", "taillabel"}  # text drawn, never a link or a file

_SCHEME = re.compile(r"\b(?:javascript|vbscript|file|data|https?|ftp)\s*:", re.IGNORECASE)
_PATHLIKE = re.compile(r"[/\\]")
_HTML_DANGER = re.compile(r"<\s*img\b|\b(?:src|href|url|target|title|tooltip|id)\s*=", re.IGNORECASE)
_SHAPES_WITH_FILES = {"epsf", "custom"}
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)")

MAX_INCHES = 200.0  # a `size` beyond this, or a `dpi` beyond MAX_DPI, is dropped: the image could not be held
MAX_DPI = 300.0
MAX_FONTSIZE = 500.0


def kept(attrs: dict[str, str], allowed: set[str], html: bool = False) -> tuple[dict[str, str], list[str]]:
    """The attributes that may reach Graphviz, and a reason for each one dropped.
    `html`: the label is an HTML-like label (kept only without images, links and titles)."""
    keep: dict[str, str] = {}
    why: list[str] = []
    for key, value in attrs.items():
        reason = _refused(key, value, allowed, html and key == "label")
        if reason is None:
            keep[key] = value
        elif key in GRAPHVIZ or _SCHEME.search(value):  # dot2torch's own, or unknown: Graphviz ignores it
            why.append(reason)
    return keep, why


def _refused(key: str, value: str, allowed: set[str], html: bool) -> str | None:
    shown = value if len(value) <= 40 else value[:39] + "…"
    if key not in allowed:
        return f"attribute {key}={shown!r} is not drawn: render keeps only layout and style attributes " \
               "(none that opens a file or makes a link)"
    if html and _HTML_DANGER.search(value):
        return "an HTML label with an image, a link or a title is drawn as the node's id"
    if key in TEXT:
        return None
    if _SCHEME.search(value):
        return f"attribute {key}={shown!r} is not drawn: it names a link or a file"
    if key in ("fontname", "labelfontname", "fontnames") and _PATHLIKE.search(value):
        return f"attribute {key}={shown!r} is not drawn: a font is named by its family, not a path"
    if key == "shape" and value.strip().lower() in _SHAPES_WITH_FILES:
        return f"attribute shape={shown!r} is not drawn: that shape reads a file"
    if key == "size" and any(float(n) > MAX_INCHES for n in _NUMBER.findall(value)):
        return f"attribute size={shown!r} is not drawn: larger than {MAX_INCHES:g} inches"
    if key == "dpi" and any(float(n) > MAX_DPI for n in _NUMBER.findall(value)):
        return f"attribute dpi={shown!r} is not drawn: more than {MAX_DPI:g}"
    if key in ("fontsize", "labelfontsize") and any(float(n) > MAX_FONTSIZE for n in _NUMBER.findall(value)):
        return f"attribute {key}={shown!r} is not drawn: larger than {MAX_FONTSIZE:g} points"
    return None
