"""Joins this folder's TF.js bench JSON with the PyTorch JSON of the same device call: table.txt.

    python3 bench/results/seg/table.py > bench/results/seg/table.txt
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))
from rows import row  # noqa: E402

HERE = Path(__file__).parent
for call, bench in [("small", "bench-head.json"), ("base", "bench-base.json")]:
    tfjs = json.loads((HERE / call / bench).read_text())
    torch = {(r["model"], r["method"], r["variant"]): r for r in json.loads((HERE / call / "pytorch.json").read_text())["results"]}
    for r in tfjs["results"]:
        eager = torch[(r["model"], r["method"], "pytorch-eager")]
        compiled = torch.get((r["model"], r["method"], "pytorch-compile"))
        print(row(r, eager, compiled))
