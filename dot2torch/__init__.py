"""dot2torch: Graphviz DOT drawings of neural networks → working PyTorch modules."""

from .api import Outcome, check, check_all, codegen, codegen_package, load, model_ir, plan
from .limits import Limits
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

__version__ = "0.1.0"

__all__ = [
    "load", "check", "check_all", "plan", "codegen", "codegen_package", "model_ir", "Outcome", "Diagnostic", "Severity", "Dot2TorchError", "Limits", "LimitError",
    "DotSyntaxError", "LabelError", "ShapeError", "SymbolError", "__version__",
]
