"""Joins this folder's TF.js bench JSON with the PyTorch JSON of the same device call: table.txt.

    python3 bench/results/rank/table.py > bench/results/rank/table.txt
"""
import json
from pathlib import Path

HERE = Path(__file__).parent
for bench, torch_json in [("bench-head.json", "py-head/pytorch.json"), ("bench-base.json", "py-base/pytorch.json")]:
    torch = {(r["model"], r["method"]): r for r in json.loads((HERE / torch_json).read_text())["results"] if r["variant"] == "pytorch-eager"}
    for r in json.loads((HERE / bench).read_text())["results"]:
        eager = torch[(r["model"], r["method"])]
        replay = r.get("replay") or {}
        synced, piped = r["msPerStep"]["median"], r["pipelinedMs"]
        es, ep = eager["msPerStep"]["median"], eager["pipelinedMs"]
        per_dispatch = r["usPerDispatch"] and round(r["usPerDispatch"], 1)
        print(
            f"{r['model']:5} {r['method']:10} {r['variant']:8} sync {synced:6.1f} pipe {piped:6.1f} enq {r['enqueueMs']:6.1f} "
            f"wait {r['gpuWaitMs']:6.1f} disp {r['dispatchesPerStep']} us/d {per_dispatch} replayed {replay.get('replayedSteps', 0)} "
            f"plans {replay.get('plans', 0)} | eager {es:.2f}/{ep:.2f} ratio {synced / es:.2f}x/{piped / ep:.2f}x"
        )
