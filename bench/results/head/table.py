"""Joins each headline call's TF.js bench JSON (bench-head, bench-old, bench-plain) with the PyTorch JSON of the
same call: table.txt. Call 1's files lie in this folder, call 2's (run2.sh) in call2/.

    python3 bench/results/head/table.py > bench/results/head/table.txt
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))
from rows import row  # noqa: E402

HERE = Path(__file__).parent
for call, folder in [("call 1 (run.sh)", HERE), ("call 2 (run2.sh)", HERE / "call2")]:
    if not (folder / "py-head" / "pytorch.json").exists():
        continue
    torch = {(r["model"], r["method"], r["variant"]): r for r in json.loads((folder / "py-head" / "pytorch.json").read_text())["results"]}
    for bench in ["bench-head.json", "bench-old.json", "bench-plain.json"]:
        path = folder / bench
        if not path.exists():
            continue
        print(f"# {call}: {bench}")
        for r in json.loads(path.read_text())["results"]:
            eager = torch[(r["model"], r["method"], "pytorch-eager")]
            compiled = torch.get((r["model"], r["method"], "pytorch-compile"))
            print(row(r, eager, compiled))
    # Freezing all A/B: aflora-both -> aflora-pm-frozen, replayed pipelined vs PyTorch eager synced.
    head = {(r["model"], r["method"]): r for r in json.loads((folder / "bench-head.json").read_text())["results"] if r["variant"] == "replayed"}
    for model in ["tiny", "mini", "small", "base"]:
        both, frozen = head.get((model, "aflora-both")), head.get((model, "aflora-pm-frozen"))
        if both and frozen:
            ours = 1 - frozen["pipelinedMs"] / both["pipelinedMs"]
            eb = torch[(model, "aflora-both", "pytorch-eager")]["msPerStep"]["median"]
            ef = torch[(model, "aflora-pm-frozen", "pytorch-eager")]["msPerStep"]["median"]
            print(f"# freezing A/B, {model}: replayed pipelined {ours:.0%}, PyTorch eager {1 - ef / eb:.0%}")

# One profiled engine step per build (timestamp queries): GPU ms in all, in the adapters' programs, in the tiled
# matmul (which ran the adapters' x A^T and dA before lowRankProducts.ts), and in the up-projection.
for call, folder in [("call 1", HERE), ("call 3 (run3.sh)", HERE / "call3")]:
    for name in ["bench-prof.json", "bench-prof-old.json"]:
        path = folder / name
        if not path.exists():
            continue
        for r in json.loads(path.read_text())["results"]:
            ms = r["kernelGpuMs"]
            def part(prefix):
                return sum(v for k, v in ms.items() if k.startswith(prefix))
            print(
                f"# {call} {name} {r['model']} {r['method']}: GPU {sum(ms.values()):.2f} ms, low-rank programs "
                f"{part('AfloraLowRank'):.2f}, tiled matmul {part('AfloraMatMul ') :.2f}, up-projection "
                f"{part('AfloraLowRankUp'):.2f}"
            )

# Call 3: this build (new2.mjs) against the headline's (bench.mjs), replayed, same call.
if (HERE / "call3" / "bench-new.json").exists():
    runs = {b: {(r["model"], r["method"]): r for r in json.loads((HERE / "call3" / f"bench-{b}.json").read_text())["results"]} for b in ["new", "old"]}
    for key, new in runs["new"].items():
        old = runs["old"][key]
        print(
            f"# call 3 {key[0]} {key[1]}: {new['msPerStep']['median']:.1f} / {new['pipelinedMs']:.1f} (wait {new['gpuWaitMs']:.1f}) "
            f"against {old['msPerStep']['median']:.1f} / {old['pipelinedMs']:.1f} (wait {old['gpuWaitMs']:.1f})"
        )
