"""The command line: argument parsing and printing only; every decision lives in the stages.

Exit codes: 0 clean, 1 problems found, 2 usage errors.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Sequence, TextIO

from .version import __version__
from .api import (DIALECTS, GENERATED_MARK, Outcome, StandardInput, check_sources, models_json, render_defaults,
                  render_format, render_source, standard_input, summarize_outcome, summary_text, summary_width, codegen, codegen_package, convert_file, diff,
                  export_text, input_sizes, models_table, reading, verify_text)
from .paths import shown_path
from .errors import Diagnostic, Dot2TorchError, GraphvizMissing, ModuleSpecError, Severity
from .expr import Value
from .limits import LIMIT_FIELDS, Limits, using
from .limits import current as current_limits

EXAMPLES = {
    "build": """examples:
  dot2torch build diagrams/                 every digraph of every .dot file, one line each
  dot2torch build diagrams/lenet.dot
  dot2torch build diagrams/regression.dot --param NFeature=13 --param NLabel=3
  dot2torch build diagrams/lenet.dot -o lenet.py   also write the model as Python that needs only torch
  dot2torch build diagrams/ -o models/             a module per model, __init__.py, shared blocks once""",
    "check": """examples:
  dot2torch check diagrams/alexnet.dot
  dot2torch check model.dot --format json   one JSON object per diagnostic, for editors and CI
  dot2torch check model.dot --strict        warnings count as problems""",
    "summary": """examples:
  dot2torch summary diagrams/lenet.dot
  dot2torch summary diagrams/alexnet.dot --name AlexNet
  dot2torch summary diagrams/resnet18.dot --batch-size 8 --depth 1     blocks folded, mult-adds for 8
  cat diagrams/lenet.dot | dot2torch summary - --format json""",
    "export": """examples:
  dot2torch export torchvision.models:resnet18 --input-shape 1,3,224,224 -o resnet18.dot
  dot2torch export mymodels.py:Net --input-shape 1,784          a class made with no arguments
  dot2torch export lm.py:make_model --input-shape 1,35:long     a function returning a module; token ids
  (the Python module named is imported and run: it is your code; a diagram is never imported)""",
    "verify": """examples:
  dot2torch verify diagrams/lenet.dot --against mymodels.py:LeNet    on inputs of the diagram's input shape
  dot2torch verify resnet.dot --against torchvision.models:resnet18 --input-shape 1,3,224,224
  dot2torch verify model.dot --against nets.py:Net --format json    one JSON object per difference""",
    "convert": """examples:
  dot2torch convert resnet_fx.dot -o resnet.dot     a torch.fx FxGraphDrawer file (drawn after ShapeProp)
  dot2torch convert lenet_fx.dot --input-shape 1,1,32,32   one drawn without shapes
  dot2torch convert model.gv --set conv2d_1.bias=False      a torchview file, settling what a note says was chosen
  (check, build and summary read such files directly: the file is converted as it is read)""",
    "diff": """examples:
  dot2torch diff old.dot new.dot             how new.dot's model differs from old.dot's, at old.dot's nodes
  dot2torch diff models.dot models.dot --name NetA --name-b NetB""",
    "render": """examples:
  dot2torch render diagrams/lenet.dot -o lenet.svg     the author's drawing, each node with its shape and parameters
  dot2torch render diagrams/resnet18.dot -o resnet.png --expand   blocks drawn inside their callers
  dot2torch render model.dot -o model.pdf --format json           say what was written, and the diagnostics
  (nodes whose check failed are red with the message, warnings amber; needs Graphviz's dot)""",
}


class UsageError(Exception):
    """Bad command-line usage: exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; its exit code. A reader that stops reading (`| head -1`) stops the
    output, not the command: the code is the command's own."""
    try:
        return _main(argv)
    finally:
        _flush(sys.stdout)
        _flush(sys.stderr)


def _main(argv: Sequence[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        _say(parser.format_help().rstrip("\n"))
        return 2
    try:
        params = dict(_parse_param(p) for p in getattr(args, "param", []))
        paths = getattr(args, "paths", None)
        named = [*(paths or ()), *(getattr(args, key, None) for key in ("file", "diagram", "other"))]
        if sum(path == STDIN for path in named) > 1:
            raise UsageError("'-' (standard input) can be read once: give it as one path only")
        for path in paths or ():
            _require_path(path)
        if paths is not None and args.name is not None and len(paths) != 1:
            raise UsageError("--name needs exactly one path")
        with reading(getattr(args, "source_dialect", None), _input_shapes(args), _settings(args)):
            return args.run(args, params)
    except UsageError as error:
        _say(f"dot2torch {args.command}: error: {error}", sys.stderr)
        return 2
    except Dot2TorchError as error:
        _say(error.diagnostic.format(), sys.stderr)
        return 1


def _say(text: str, stream: TextIO | None = None) -> None:
    """Print a line. If the reader has closed the pipe, the rest of the output goes nowhere."""
    stream = stream or sys.stdout
    try:
        print(text, file=stream)
    except BrokenPipeError:
        _discard(stream)


def _flush(stream: TextIO) -> None:
    try:
        stream.flush()
    except BrokenPipeError:
        _discard(stream)
    except (OSError, ValueError):
        pass  # closed or not a file: nothing more can be said there


def _discard(stream: TextIO) -> None:
    """Point the stream's file at the null device, so that what is still buffered, and what
    Python flushes at exit, is dropped quietly instead of raising BrokenPipeError again."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
    except (OSError, ValueError):
        pass


STDIN = "-"  # as a path: the DOT text on standard input (its blocks: the current folder's .dot files)


def _source(path: str) -> Path | StandardInput:
    """A command-line path as a source: `-` reads standard input (once; the limits apply)."""
    if path == STDIN:
        return standard_input(sys.stdin.buffer, current_limits().file_bytes)
    return Path(path)


def _require_path(path: str) -> None:
    """A command-line path names something: else a usage error. A path that exists but
    cannot be examined is left to the check, which reports it (D2T112). `-` is standard input."""
    if path == STDIN:
        return
    if not path:
        raise UsageError("an empty path names no file or folder")
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        raise UsageError(f"no such file or folder: {path}") from None
    except OSError:
        pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dot2torch",
        description="Turn Graphviz DOT drawings of neural networks into working PyTorch modules.",
        epilog="Run 'dot2torch COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"dot2torch {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, run, help_text in (
        ("build", _build, "compile and check every digraph, one summary line each"),
        ("check", _check, "report every problem in the diagrams (exit 0 clean, 1 problems)"),
        ("summary", _summary, "a table per model, like torchinfo's: layers, ops in full, shapes, parameters, "
                               "mult-adds, memory"),
    ):
        sub = commands.add_parser(
            name, help=help_text, description=help_text, epilog=EXAMPLES[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.set_defaults(run=run)
        sub.add_argument("paths", nargs="+", metavar="PATH", help=".dot files or folders of them")
        sub.add_argument("--name", help="the digraph to use (default: the one no other digraph refers to)")
        sub.add_argument("--param", action="append", default=[], metavar="K=V",
                         help="bind a symbol or override a label's default (repeatable)")
        sub.add_argument("--strict", action="store_true", help="treat warnings as problems")
        sub.add_argument("--verbose", action="store_true", help="also say how block parameters were matched")
        bounds = sub.add_argument_group("limits", "bounds on what a diagram may ask for; raise them for big models")
        for field in LIMIT_FIELDS:
            bounds.add_argument(Limits.option(field), type=_positive, dest=f"limit_{field}", metavar="N",
                                help=f"default {getattr(Limits(), field):,}")
        _foreign_options(sub, "--input-shape" if name != "verify" else None)
        {"build": _build_options, "check": _check_options, "summary": _summary_options}[name](sub)
    _export_parser(commands)
    _verify_parsers(commands)
    _convert_parser(commands)
    _render_parser(commands)
    return parser


def _build_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--format", choices=("text", "json"), default="text",
                     help="json: an object per digraph and the diagnostics (dot2torch/schemas.py, BUILD)")
    sub.add_argument("-o", "--output", metavar="OUT", help="write Python: OUT.py for one model, or DIR/ for a module "
                                                           "per model")
    sub.add_argument("--force", action="store_true", help="let -o replace files that dot2torch did not generate")


def _check_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--format", choices=("text", "json"), default="text")


def _summary_options(sub: argparse.ArgumentParser) -> None:
    """summary's own options; symbols are bound with the common --param K=V (repeatable)."""
    sub.add_argument("--batch-size", type=_positive, metavar="B",
                     help="the batch the shapes, mult-adds and memory are for (default: the diagram's, 1 where it "
                          "names the batch)")
    sub.add_argument("--depth", type=int, metavar="N",
                     help="fold the rows of blocks nested deeper than N into their block's row (0: the top level only)")
    sub.add_argument("--width", type=_positive, metavar="COLUMNS",
                     help="wrap the table to this many columns (default: $COLUMNS, else the terminal's, else 120)")
    sub.add_argument("--format", choices=("text", "json"), default="text",
                     help="json: one document, per dot2torch/schemas.py, SUMMARY")


def _foreign_options(sub: argparse.ArgumentParser, shape_option: str | None) -> None:
    """--from, --input-shape and --set: how a file another tool wrote is read."""
    group = sub.add_argument_group("files other tools wrote", "torch.fx FxGraphDrawer and torchview files are "
                                                             "recognised and imported; see 'dot2torch convert'")
    group.add_argument("--from", dest="source_dialect", choices=DIALECTS, metavar="DIALECT",
                       help=f"read the files as this dialect ({', '.join(DIALECTS)}; default: recognised)")
    if shape_option is not None:
        group.add_argument(shape_option, dest="import_shapes", action="append", default=[], metavar="SIZES",
                           help="the input's shape, such as 1,3,32,32, for a file that draws none (repeat per input)")
    group.add_argument("--set", dest="import_settings", action="append", default=[], metavar="NODE.KEY=VALUE",
                       help="settle a value an import chose and noted, such as conv2d_1.kernel_size=1 (repeatable)")


def _settings(args: argparse.Namespace) -> dict[str, object]:
    """--set NODE.KEY=VALUE: VALUE a Python literal (3, (3, 1), False; true/false too), else a word."""
    import ast

    settings: dict[str, object] = {}
    for text in getattr(args, "import_settings", []) or []:
        target, sep, raw = text.partition("=")
        node, _, key = target.strip().rpartition(".")
        if not sep or not node or not key.isidentifier() or not raw.strip():
            raise UsageError(f"--set takes NODE.KEY=VALUE, such as conv2d_1.kernel_size=1, found {text!r}")
        word = raw.strip()
        try:
            value: object = ast.literal_eval(word)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            value = {"true": True, "false": False}.get(word.lower(), word)
        settings[target.strip()] = value
    return settings


def _input_shapes(args: argparse.Namespace) -> list[tuple[int, ...]]:
    try:
        return [input_sizes(text) for text in getattr(args, "import_shapes", []) or []]
    except ModuleSpecError as error:
        raise UsageError(str(error)) from None


def _convert_parser(commands: argparse._SubParsersAction) -> None:
    help_text = "print a diagram another tool wrote (torch.fx, torchview) as a dot2torch diagram in the house style"
    sub = commands.add_parser("convert", help=help_text, description=help_text, epilog=EXAMPLES["convert"],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub.set_defaults(run=_convert)
    sub.add_argument("file", metavar="FILE", help="the .dot file")
    sub.add_argument("-o", "--output", metavar="OUT.dot", help="write the diagram there (default: print it)")
    _foreign_options(sub, "--input-shape")


def _convert(args: argparse.Namespace, params: dict[str, Value]) -> int:
    _require_path(args.file)
    converted = convert_file(_source(args.file))
    for d in converted.notes:
        _say(d.format(), sys.stderr)
    if args.output is None:
        _say(converted.text.rstrip("\n"))
        return 0
    write_atomically(Path(args.output), converted.text)
    _say(f"wrote {args.output}")
    return 0


def _render_parser(commands: argparse._SubParsersAction) -> None:
    DEFAULT_TIMEOUT, DEFAULT_MAX_BYTES = render_defaults()
    help_text = "draw a diagram with Graphviz as its author laid it out, with shapes, parameters and problems"
    sub = commands.add_parser("render", help=help_text, description=help_text, epilog=EXAMPLES["render"],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub.set_defaults(run=_render)
    sub.add_argument("paths", nargs=1, metavar="PATH", help="a .dot file (or a folder of them, with --name), - for "
                                                           "standard input")
    sub.add_argument("-o", "--output", required=True, metavar="OUT",
                     help="where to write the drawing: its suffix, .svg, .png or .pdf, says which")
    sub.add_argument("--name", help="the digraph to draw (default: the one no other digraph refers to)")
    sub.add_argument("--param", action="append", default=[], metavar="K=V",
                     help="bind a symbol or override a label's default (repeatable)")
    sub.add_argument("--expand", action="store_true",
                     help="draw called blocks inside their callers as clusters, repetitions marked × N")
    sub.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                     help=f"stop Graphviz after this long (default {DEFAULT_TIMEOUT:g})")
    sub.add_argument("--max-image-bytes", type=_positive, default=DEFAULT_MAX_BYTES, metavar="N",
                     help=f"the largest drawing Graphviz may write (default {DEFAULT_MAX_BYTES:,})")
    sub.add_argument("--format", choices=("text", "json"), default="text",
                     help="json: what was written and the diagnostics (dot2torch/schemas.py, RENDER)")
    sub.add_argument("--verbose", action="store_true", help="also say how block parameters were matched")
    bounds = sub.add_argument_group("limits", "bounds on what a diagram may ask for; raise them for big models")
    for field in LIMIT_FIELDS:
        bounds.add_argument(Limits.option(field), type=_positive, dest=f"limit_{field}", metavar="N",
                            help=f"default {getattr(Limits(), field):,}")
    _foreign_options(sub, "--input-shape")


def _render(args: argparse.Namespace, params: dict[str, Value]) -> int:
    fmt = render_format(args.output)
    if fmt is None:
        raise UsageError(f"-o {args.output}: the suffix says the format, one of .svg, .png, .pdf")
    if not (math.isfinite(args.timeout) and 0 < args.timeout <= _LONGEST_RENDER):
        raise UsageError(f"--timeout takes a number of seconds above 0 and at most {_LONGEST_RENDER:,}, found "
                         f"{args.timeout:g}")
    target = Path(args.output)
    if target.is_dir():
        raise UsageError(f"-o {args.output} is a folder: name the file to write")
    if not target.parent.is_dir():
        raise UsageError(f"-o {args.output}: no such folder: {target.parent}")
    limits = _limits(args)
    with using(limits):
        source = _source(args.paths[0])
    try:
        drawn = render_source(source, args.name, params=params, limits=limits, fmt=fmt, expand=args.expand,
                       timeout=args.timeout, max_bytes=args.max_image_bytes, verbose=args.verbose)
    except GraphvizMissing as missing:
        if args.format == "json":
            said = Diagnostic("D2T621", str(missing), Severity.ERROR, file=_shown_source(args.paths[0]))
            _say(json.dumps({"output": None, "format": fmt, "diagnostics": [said.to_json()]}, ensure_ascii=False,
                            indent=1))
        else:
            _say(f"dot2torch render: {missing}", sys.stderr)
        return 1
    if drawn.data is not None:
        try:
            write_bytes_atomically(target, drawn.data)
        except OSError as error:
            _say(f"dot2torch render: cannot write {args.output}: {error.strerror or error}", sys.stderr)
            return 1
    if args.format == "json":
        _say(json.dumps({"output": args.output if drawn.data is not None else None, "format": fmt,
                         "diagnostics": [d.to_json() for d in drawn.diagnostics]}, ensure_ascii=False, indent=1))
    else:
        for d in drawn.diagnostics:
            _say(d.format())
        if drawn.data is not None:
            _say(f"wrote {args.output}")
    return 0 if drawn.data is not None and drawn.ok else 1


_LONGEST_RENDER = 86_400  # seconds: --timeout's bound (a day)


def _shown_source(path: str) -> str:
    return "<stdin>" if path == STDIN else path


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write bytes to a temporary file beside `path` (in a folder that exists), then rename it
    into place."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _verify_parsers(commands: argparse._SubParsersAction) -> None:
    help_text = "compare a diagram with the torch.nn.Module it documents, node by node (exit 0 they agree)"
    sub = commands.add_parser("verify", help=help_text, description=help_text, epilog=EXAMPLES["verify"],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub.set_defaults(run=_verify)
    sub.add_argument("diagram", metavar="DIAGRAM", help="a .dot file (or a folder of them, with --name)")
    sub.add_argument("--against", required=True, metavar="MODULE_PATH:ATTR",
                     help="a dotted module or a .py file, then a class (made with no arguments), a function "
                          "returning a module, or a module")
    sub.add_argument("--input-shape", action="append", default=[], metavar="SIZES[:DTYPE]",
                     help="run the module on inputs of this shape (default: the diagram's input shapes)")
    help_text = "compare the models two diagrams build, node by node (exit 0 the same)"
    other = commands.add_parser("diff", help=help_text, description=help_text, epilog=EXAMPLES["diff"],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    other.set_defaults(run=_diff)
    other.add_argument("diagram", metavar="A", help="the first diagram: differences are reported at its nodes")
    other.add_argument("other", metavar="B", help="the second diagram")
    other.add_argument("--name-b", help="B's digraph (default: --name)")
    for parser in (sub, other):
        parser.add_argument("--name", help="the digraph to use (default: the one no other digraph refers to)")
        parser.add_argument("--param", action="append", default=[], metavar="K=V",
                            help="bind a symbol or override a label's default (repeatable)")
        parser.add_argument("--format", choices=("text", "json"), default="text")


def _verify(args: argparse.Namespace, params: dict[str, Value]) -> int:
    _require_path(args.diagram)
    try:
        found = verify_text(_source(args.diagram), args.against, args.input_shape, name=args.name, params=params)
    except ModuleSpecError as error:
        raise UsageError(str(error)) from None
    return _differences(found, args, f"{args.diagram} and {args.against} agree")


def _diff(args: argparse.Namespace, params: dict[str, Value]) -> int:
    _require_path(args.diagram)
    _require_path(args.other)
    found = diff(_source(args.diagram), _source(args.other), args.name, args.name_b, params=params)
    return _differences(found, args, f"{args.diagram} and {args.other} build the same model")


def _differences(found: list[Diagnostic], args: argparse.Namespace, agreement: str) -> int:
    """Print what verify or diff found; 1 if anything, 0 if they agree."""
    if args.format == "json":
        _say(json.dumps([d.to_json() for d in found], ensure_ascii=False, indent=1))
    else:
        for d in found:
            _say(d.format())
        _say(f"{len(found)} problem(s)" if found else agreement)
    return 1 if found else 0


def _export_parser(commands: argparse._SubParsersAction) -> None:
    help_text = "draw a torch.nn.Module as a diagram in the house style (DOT that builds back into it)"
    sub = commands.add_parser("export", help=help_text, description=help_text, epilog=EXAMPLES["export"],
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub.set_defaults(run=_export)
    sub.add_argument("module", metavar="MODULE_PATH:ATTR",
                     help="a dotted module or a .py file, then a class (made with no arguments), a function "
                          "returning a module, or a module")
    sub.add_argument("--input-shape", action="append", required=True, metavar="SIZES[:DTYPE]",
                     help="an example input's shape, such as 1,3,224,224 (repeat for several inputs; "
                          ":long for token ids)")
    sub.add_argument("--name", help="the diagram's name (default: the module's class name)")
    sub.add_argument("--flat", action="store_true",
                     help="every layer in one digraph (default: the module's own submodules as block digraphs)")
    sub.add_argument("-o", "--output", metavar="OUT.dot", help="write the diagram there (default: print it)")


def _export(args: argparse.Namespace, params: dict[str, Value]) -> int:
    try:
        text = export_text(args.module, args.input_shape, name=args.name, flat=args.flat)
    except ModuleSpecError as error:
        raise UsageError(str(error)) from None
    if args.output is None:
        _say(text.rstrip("\n"))
        return 0
    write_atomically(Path(args.output), text)
    _say(f"wrote {args.output}")
    return 0


def _parse_param(text: str) -> tuple[str, Value]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--param takes KEY=VALUE, got {text!r}")
    raw = raw.strip()
    value: Value
    for convert in (int, float):
        try:
            value = convert(raw)
            break
        except ValueError:
            continue
    else:
        value = {"True": True, "False": False}.get(raw, raw)
    return key.strip(), value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def _limits(args: argparse.Namespace) -> Limits:
    given = {f: getattr(args, f"limit_{f}") for f in LIMIT_FIELDS if getattr(args, f"limit_{f}") is not None}
    return Limits(**given)


def _outcomes(args: argparse.Namespace, params: dict[str, Value]) -> list[Outcome]:
    limits = _limits(args)
    with using(limits):
        sources = [_source(p) for p in args.paths]
    outcomes = check_sources(sources, args.name, params=params, limits=limits)
    if not args.verbose:
        for o in outcomes:
            o.diagnostics = [d for d in o.diagnostics if d.severity is not Severity.INFO]
    return outcomes


def _problems(outcomes: list[Outcome], args: argparse.Namespace) -> bool:
    counted = {Severity.ERROR}
    if args.strict:
        counted.add(Severity.WARNING)
    return any(d.severity in counted for o in outcomes for d in o.diagnostics)


def _build(args: argparse.Namespace, params: dict[str, Value]) -> int:
    outcomes = _outcomes(args, params)
    if args.format == "json":
        _say(json.dumps(models_json(outcomes), ensure_ascii=False, indent=1))
        if _problems(outcomes, args):
            return 1
        return write_python(args, params, [o.name for o in outcomes if not o.used_by]) if args.output else 0
    _say(models_table(outcomes))
    diagnostics = [d for o in outcomes for d in o.diagnostics]
    if diagnostics:
        _say("")
        for d in diagnostics:
            _say(d.format())
    if _problems(outcomes, args):
        return 1
    if args.output is not None:
        return write_python(args, params, [o.name for o in outcomes if not o.used_by])
    return 0


def write_python(args: argparse.Namespace, params: dict[str, Value], models: list[str]) -> int:
    """`build -o`: the generated Python, written atomically; files dot2torch did not write
    are kept unless --force."""
    out = Path(args.output)
    package = args.output.endswith(("/", os.sep)) or out.is_dir()
    command = _command(args)
    try:
        if package:
            files = {out / name: text for name, text in codegen_package(
                [Path(p) for p in args.paths], args.name, params=params, limits=_limits(args), command=command).items()}
        else:
            if len(models) != 1:
                listed = ", ".join(models)
                raise UsageError(f"{args.output} holds one model, and these paths have {len(models)} ({listed}): "
                                 "choose one with --name, or write a module per model with -o DIR/")
            text = codegen(Path(args.paths[0]), args.name or models[0], params=params, limits=_limits(args),
                           command=command)
            files = {out: text}
    except Dot2TorchError as error:
        for d in error.diagnostics:
            _say(d.format(), sys.stderr)
        return 1
    for path in files:
        if path.exists() and not args.force and not _generated(path):
            raise UsageError(f"{path} exists and was not written by dot2torch: use --force to replace it")
    for path, text in files.items():
        write_atomically(path, text)
        _say(f"wrote {path}")
    return 0


def _command(args: argparse.Namespace) -> str:
    """The command line that writes the same files again."""
    words = ["dot2torch", "build", *map(shown_path, args.paths)]
    if args.name:
        words += ["--name", args.name]
    for p in args.param:
        words += ["--param", p]
    words += ["-o", shown_path(args.output) + ("/" if args.output.endswith(("/", os.sep)) else "")]
    return shlex.join(words)


def _generated(path: Path) -> bool:
    """Was the file written by dot2torch (it starts with the generator's mark)?"""
    try:
        with path.open("rb") as f:
            return f.read(len(GENERATED_MARK)) == GENERATED_MARK.encode()
    except OSError:
        return False


def write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(temporary, 0o666 & ~_umask())  # as an ordinary write would make it, not mkstemp's 0600
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _check(args: argparse.Namespace, params: dict[str, Value]) -> int:
    outcomes = _outcomes(args, params)
    diagnostics = [d for o in outcomes for d in o.diagnostics]
    if args.format == "json":
        _say(json.dumps([d.to_json() for d in diagnostics], ensure_ascii=False, indent=1))
    else:
        for d in diagnostics:
            _say(d.format())
        errors = sum(d.severity is Severity.ERROR for d in diagnostics)
        warnings = sum(d.severity is Severity.WARNING for d in diagnostics)
        checked = sum(1 for o in outcomes if not o.used_by)
        _say(f"{checked} model(s) checked: {errors} problem(s), {warnings} warning(s)")
    return 1 if _problems(outcomes, args) else 0


def _summary(args: argparse.Namespace, params: dict[str, Value]) -> int:
    import shutil

    if args.depth is not None and args.depth < 0:
        raise UsageError(f"--depth takes 0 or more, got {args.depth}")
    outcomes = [o for o in _outcomes(args, params) if not o.used_by]
    summaries = {id(o): summarize_outcome(o, args.batch_size) for o in outcomes if o.plan is not None}
    if args.format == "json":
        models = []
        for o in outcomes:
            s = summaries.get(id(o))
            models.append({"name": o.name, "file": o.file, "batch_size": s.batch_size if s else None,
                           "built": s is not None, "rows": [r.to_json() for r in s.shown(args.depth)] if s else [],
                           "totals": s.totals.to_json() if s else None,
                           "diagnostics": [d.to_json() for d in o.diagnostics]})
        _say(json.dumps({"models": models}, ensure_ascii=False, indent=1))
        return 1 if _problems(outcomes, args) else 0
    width = args.width
    if width is None:
        columns = os.environ.get("COLUMNS", "")
        width = int(columns) if columns.isdigit() and int(columns) > 0 else (
            shutil.get_terminal_size((summary_width(), 24)).columns if _isatty(sys.stdout) else summary_width())
    for i, o in enumerate(outcomes):
        if i:
            _say("")
        if o.plan is None:
            _say(f"{o.name} ({o.file}): not built")
        else:
            _say(summary_text(summaries[id(o)], depth=args.depth, width=width))
        for d in o.diagnostics:
            _say(d.format())
    return 1 if _problems(outcomes, args) else 0


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


if __name__ == "__main__":
    sys.exit(main())
