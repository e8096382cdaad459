"""Joins the headline call's TF.js bench JSON (bench-head, bench-old) with its PyTorch JSON: table.txt.

    python3 bench/results/head/table.py > bench/results/head/table.txt
"""
import json
from pathlib import Path

HERE = Path(__file__).parent
torch = {(r["model"], r["method"], r["variant"]): r for r in json.loads((HERE / "py-head" / "pytorch.json").read_text())["results"]}
for bench in ["bench-head.json", "bench-old.json"]:
    path = HERE / bench
    if not path.exists():
        continue
    print(f"# {bench}")
    for r in json.loads(path.read_text())["results"]:
        eager = torch[(r["model"], r["method"], "pytorch-eager")]
        compiled = torch.get((r["model"], r["method"], "pytorch-compile"))
        variant = r["variant"] + ("" if r.get("submitEvery") is None else f"/{r['submitEvery']}")
        synced, piped = r["msPerStep"]["median"], r["pipelinedMs"]
        es, ep = eager["msPerStep"]["median"], eager["pipelinedMs"]
        per_dispatch = r["usPerDispatch"] and round(r["usPerDispatch"], 1)
        line = (
            f"{r['model']:5} {r['method']:16} {variant:12} sync {synced:6.1f} pipe {piped:6.1f} enq {r['enqueueMs']:5.1f} "
            f"wait {r['gpuWaitMs']:5.1f} disp {r['dispatchesPerStep']} us/d {per_dispatch} | eager {es:.2f}/{ep:.2f} "
            f"ratio {synced / es:.2f}x/{piped / ep:.2f}x"
        )
        print(line + (f" compile {compiled['msPerStep']['median']:.2f}" if compiled else ""))
