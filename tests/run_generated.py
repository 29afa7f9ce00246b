"""Run generated modules in a fresh interpreter in which importing dot2torch fails.

Usage: python run_generated.py FOLDER. FOLDER/cases.json lists the cases; for each it holds
the generated module (FOLDER/<module>.py), the state_dict and inputs the parent saved
(FOLDER/<module>.pt). This script imports the module, builds the class with the stated
arguments, loads the state_dict, runs it in eval mode with the same seed, and saves the
outputs and the state_dict's keys and shapes to FOLDER/<module>.out.pt.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

sys.modules["dot2torch"] = None  # type: ignore[assignment]  # any import of dot2torch now fails

import torch  # noqa: E402


def main(folder: Path) -> None:
    try:
        importlib.import_module("dot2torch")
    except ImportError:
        pass
    else:
        raise SystemExit("dot2torch could be imported")
    sys.path.insert(0, str(folder))
    for case in json.loads((folder / "cases.json").read_text(encoding="utf-8")):
        module = importlib.import_module(case["module"])
        model = getattr(module, case["cls"])(**case["arguments"]).eval()
        saved = torch.load(folder / f"{case['module']}.pt", weights_only=True)
        keys = [(k, list(v.shape)) for k, v in model.state_dict().items()]
        model.load_state_dict(saved["state"])
        torch.manual_seed(0)
        with torch.no_grad():
            out = model(*saved["inputs"])
        outputs = list(out) if isinstance(out, tuple) else [out]
        torch.save({"keys": keys, "outputs": outputs}, folder / f"{case['module']}.out.pt")
    assert "dot2torch" not in {name.split(".")[0] for name, m in sys.modules.items() if m is not None}


if __name__ == "__main__":
    main(Path(sys.argv[1]))
