"""Where the replayed step's JavaScript time goes (BENCHMARKS.md headline): the CPU profile of call 1's
`--cpu-prof` part (replayed tiny and mini LoRA), self time inside StepPlan.run by the call on each line.

    python3 bench/results/head/profile.py

Line offsets are those of StepPlan.run in the bundle of 1abaa67 (the headline's build), which the profile ran.
"""
import collections
import gzip
import json
from pathlib import Path

CALLS = {14: "carries (copyBufferToBuffer)", 27: "setPipeline", 28: "setBindGroup", 29: "dispatchWorkgroups",
         33: "queue.submit (a 64-dispatch chunk)", 34: "createCommandEncoder", 46: "queue.submit (last chunk)"}
profile = json.loads(gzip.decompress((Path(__file__).parent / "replayed-tiny-mini.cpuprofile.gz").read_bytes()))
ticks = collections.Counter()
run_self = 0
for node in profile["nodes"]:
    frame = node["callFrame"]
    if frame["functionName"] == "run" and frame["url"].endswith("bench.mjs") and node.get("positionTicks"):
        for tick in node["positionTicks"]:
            ticks[tick["line"] - 1 - frame["lineNumber"]] += tick["ticks"]
total = sum(ticks.values())
print(f"StepPlan.run self samples: {total}")
for offset, count in ticks.most_common():
    print(f"{count / total:6.1%}  {CALLS.get(offset, f'line +{offset}')}")

# Share of the replayed step (Trainer.replayStep and all it calls) spent in run's own calls into Dawn.
parent = {child: node["id"] for node in profile["nodes"] for child in node.get("children", [])}
nodes = {node["id"]: node for node in profile["nodes"]}
def under(node_id, name):
    while node_id is not None:
        if nodes[node_id]["callFrame"]["functionName"] == name:
            return True
        node_id = parent.get(node_id)
    return False
samples = collections.Counter(profile["samples"])
step = sum(n for node_id, n in samples.items() if under(node_id, "replayStep"))
in_run = sum(n for node_id, n in samples.items() if nodes[node_id]["callFrame"]["functionName"] == "run" and under(node_id, "replayStep"))
print(f"replayStep samples {step}, of them StepPlan.run's own {in_run} ({in_run / step:.0%})")
