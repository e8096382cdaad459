"""table.txt from the sbs-{old,new}-{1,2}.json reports of run.sh (python3 table.py > table.txt)."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
print("# SwiftShader (this machine's CPU), tiny, batch 2 x seq 16, replayed/64, median of 10 steps; old = 55191b0, new = 6f1acff")
print("# (in-place AdamW, direct and rehomed uploads); rounds run old, new, old, new")
print("# round method            build  enqueue_ms  us/disp  dispatches  carries  passes  loss")
for rnd in (1, 2):
    for method in ("lora-r8", "aflora-both", "aflora-pm-frozen"):
        for build in ("old", "new"):
            with open(os.path.join(HERE, f"sbs-{build}-{rnd}.json")) as f:
                report = json.load(f)
            r = next(x for x in report["results"] if x["method"] == method)
            st = r["replay"]["stats"]
            print(f"  {rnd}   {method:17s} {build:5s}  {r['enqueueMs']:9.2f}  {r['usPerDispatch']:7.1f}  {st['dispatches']:10d}"
                  f"  {st['carries']:7d}  {st['passes']:6d}  {r['lastLoss']:.6f}")
