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

# Calls 2 and 3: two builds side by side (BENCHMARKS.md "Call 2", "Call 3"), replayed, synced / pipelined / GPU wait.
eager_of = {"call2": {(r["model"], r["method"]): r for r in json.loads((HERE / "call2/py-small-base/pytorch.json").read_text())["results"] if r["variant"] == "pytorch-eager"}}
for call, builds in [("call2", ["old", "new"]), ("call3", ["before", "after"])]:
    runs = {b: {(r["model"], r["method"]): r for r in json.loads((HERE / call / f"bench-{b}.json").read_text())["results"]} for b in builds}
    for key in runs[builds[0]]:
        cells = [runs[b][key] for b in builds]
        text = " -> ".join(f"{r['msPerStep']['median']:.1f} / {r['pipelinedMs']:.1f} (wait {r['gpuWaitMs']:.1f}, {r['dispatchesPerStep']} disp)" for r in cells)
        eager = eager_of.get(call, {}).get(key)
        print(f"{call} {key[0]:5} {key[1]:10} {text}" + (f" | eager {eager['msPerStep']['median']:.2f}" if eager else ""))
