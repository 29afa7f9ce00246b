"""dot2torch: Graphviz DOT drawings of neural networks → working PyTorch modules.

The API (`load`, `check`, `codegen`, ...) is imported on first use, so that importing a
torch-free part of the package (`dot2torch.ir`, `dot2torch.errors`) does not import torch.
"""

from .errors import (
    Diagnostic,
    Dot2TorchError,
    DotSyntaxError,
    LabelError,
    LimitError,
    Severity,
    ShapeError,
    SymbolError,
)
from .version import __version__

_FROM_API = ("load", "check", "check_all", "check_sources", "plan", "codegen", "codegen_package", "model_ir", "Outcome",
             "to_dot", "verify", "diff")

__all__ = [
    *_FROM_API, "Limits", "Diagnostic", "Severity", "Dot2TorchError", "LimitError", "DotSyntaxError",
    "LabelError", "ShapeError", "SymbolError", "__version__",
]


def __getattr__(name: str) -> object:
    if name in _FROM_API:
        from . import api

        return getattr(api, name)
    if name == "Limits":
        from .limits import Limits

        return Limits
    raise AttributeError(f"module 'dot2torch' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
