"""Which DOT attributes of nodes and edges change the model, and which only draw.

dot2torch reads its own attributes (`label`, `block` on nodes; `label`, `arg`, `out` on edges).
Graphviz's attributes of the same component (its attribute table's "used by" N and E
columns, graphviz.org/doc/info/attrs.html) only change the drawing and are ignored. Any
other attribute (`lable`, `kernel=3`, Graphviz's graph attribute `K` on a node) changes
nothing, and the reading pass warns about it.
"""

from __future__ import annotations

import difflib
from typing import Iterable

# dot2torch's own attributes.
NODE_OWN: frozenset[str] = frozenset({"label", "block"})
EDGE_OWN: frozenset[str] = frozenset({"label", "arg", "out"})

# Graphviz's node attributes (used by N), and those dot2tex adds (pydot lists them).
GRAPHVIZ_NODE: frozenset[str] = frozenset({
    "URL", "area", "class", "color", "colorscheme", "comment", "distortion", "fillcolor", "fixedsize",
    "fontcolor", "fontname", "fontsize", "gradientangle", "group", "height", "href", "id", "image",
    "imagepos", "imagescale", "label", "labelloc", "layer", "margin", "nojustify", "ordering",
    "orientation", "penwidth", "peripheries", "pin", "pos", "rects", "regular", "root", "samplepoints",
    "shape", "shapefile", "showboxes", "sides", "skew", "sortv", "style", "target", "tooltip", "vertices",
    "width", "xlabel", "xlp", "z", "texlbl", "texmode",
})

# Graphviz's edge attributes (used by E), and `rank`, which pydot lists for edges.
GRAPHVIZ_EDGE: frozenset[str] = frozenset({
    "URL", "arrowhead", "arrowsize", "arrowtail", "class", "color", "colorscheme", "comment", "constraint",
    "decorate", "dir", "edgeURL", "edgehref", "edgetarget", "edgetooltip", "fillcolor", "fontcolor",
    "fontname", "fontsize", "head_lp", "headURL", "headclip", "headhref", "headlabel", "headport",
    "headtarget", "headtooltip", "href", "id", "label", "labelURL", "labelangle", "labeldistance",
    "labelfloat", "labelfontcolor", "labelfontname", "labelfontsize", "labelhref", "labeltarget",
    "labeltooltip", "layer", "len", "lhead", "lp", "ltail", "minlen", "nojustify", "penwidth", "pos",
    "rank", "samehead", "sametail", "showboxes", "style", "tail_lp", "tailURL", "tailclip", "tailhref",
    "taillabel", "tailport", "tailtarget", "tailtooltip", "target", "tooltip", "weight", "xlabel", "xlp",
})


_KNOWN = {"node": (NODE_OWN, GRAPHVIZ_NODE), "edge": (EDGE_OWN, GRAPHVIZ_EDGE)}


def unknown(names: Iterable[str], kind: str) -> list[str]:
    """What to say about each attribute of a node or edge (`kind`) that is neither
    dot2torch's nor Graphviz's, in sorted order of the names."""
    own, drawing = _KNOWN[kind]
    messages = []
    for name in sorted(n for n in names if n not in own and n not in drawing):
        close = difflib.get_close_matches(name, sorted(own | drawing), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        messages.append(f"attribute {name!r} is neither dot2torch's ({', '.join(sorted(own))}) nor a Graphviz "
                        f"{kind} attribute, so it changes nothing{hint}")
    return messages
