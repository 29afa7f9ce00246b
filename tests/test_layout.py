"""The package's shape: no circle of imports (lazy and type-checking imports included), the
IR importable without torch, the command line reaching models only through the API."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "dot2torch"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every dot2torch module a file imports, wherever the import statement stands."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            submodules = [f"{target}.{a.name}" for a in node.names if _exists(f"{target}.{a.name}")]
            candidates = submodules if len(submodules) == len(node.names) else [target, *submodules]
        elif isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        else:
            continue
        found.update(c for c in candidates if c.split(".")[0] == "dot2torch" and _exists(c))
    found.discard(name)
    return found


def _exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for path in PACKAGE.rglob("*.py"):
        g.add_node(_module_name(path))
        for target in _imports(path):
            g.add_edge(_module_name(path), target)
    return g


def test_no_circle_of_imports():
    cycles = sorted(" -> ".join(c) for c in nx.simple_cycles(_graph()))
    assert cycles == []


def test_the_ir_imports_without_torch():
    code = "import sys; sys.modules['torch'] = None; import dot2torch.ir as ir; print(ir.Kind.MODULE.value)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (run.returncode, run.stdout) == (0, "module\n"), run.stderr[-2000:]


def test_the_command_line_reaches_models_only_through_the_api():
    allowed = {"dot2torch", "dot2torch.api", "dot2torch.errors", "dot2torch.limits", "dot2torch.paths",
               "dot2torch.expr", "dot2torch.version"}
    assert _imports(PACKAGE / "cli.py") <= allowed


def test_the_planner_is_no_mixin_host():
    """Formula typing is a part the planner holds, not a base class reaching into it."""
    from dot2torch.plan_formulas import FormulaTyping
    from dot2torch.planner import Planner

    assert Planner.__mro__ == (Planner, object)
    assert FormulaTyping.__mro__ == (FormulaTyping, object)


def test_each_digraph_is_read_once_per_build(monkeypatch):
    """The reading pass runs once per digraph however often it is used (DenseNet repeats
    DenseLayer six times in each of its blocks), and every label is parsed once."""
    import dot2torch
    from dot2torch import reader, reading
    from dot2torch.reader import read_text

    passes: list[str] = []
    parsed: list[tuple[str, str]] = []
    run = reading._ReadingPass.run
    parse = reader.parse_label

    def counted_run(self):
        passes.append(self.diagram.name)
        return run(self)

    def counted_parse(text):
        parsed.append(text)
        return parse(text)

    monkeypatch.setattr(reading._ReadingPass, "run", counted_run)
    monkeypatch.setattr(reader, "parse_label", counted_parse)
    path = Path(__file__).parent.parent / "diagrams" / "densenet.dot"
    dot2torch.load(path)
    assert sorted(passes) == ["DenseBlock", "DenseLayer", "DenseNet", "TransitionLayer"]
    labels = [data["label"] for d in read_text(path.read_text(encoding='utf-8')) for _, data in d.graph.nodes(data=True)]
    assert sorted(parsed) == sorted(labels)
