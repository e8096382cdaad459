#!/usr/bin/env python3
"""Reproduce the browser engine's run in PyTorch and compare (docs/pytorch.md, "Reproduction").

    python3 repro/compare.py repro/spam-ham [--out DIR] [--device cuda|cpu]

The folder holds run.json, its data files, and what scripts/python/browser-run.ts wrote from the app's engine:
browser.json (per-step loss, freeze steps) and init.safetensors (every variable before step 0). This runs the same
config with peft_playground.train (dropout 0, --init), then checks: every matrix freezes at the same step, the final
loss within 1e-3. Prints a table and writes DIR/report.json; exits 1 when a check fails."""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import torch  # noqa: E402

from peft_playground import train  # noqa: E402

FINAL_LOSS_TOL = 1e-3


def compare(folder: str, out: str, device: str) -> dict:
    browser = json.load(open(os.path.join(folder, "browser.json")))
    args = train.parser().parse_args(
        ["--config", os.path.join(folder, "run.json"), "--output-dir", out, "--dropout", "0", "--init", os.path.join(folder, "init.safetensors")]
        + (["--model", os.path.join(os.path.dirname(HERE), "..", "public", "models", "builtin")] if not os.path.isdir(os.path.join(folder, "model")) else [])
    )
    result = train.run(args, device=torch.device(device))
    ours = [m["loss"] for m in result["metrics"]]
    freezer = result["session"].freezer
    frozen = freezer.frozen_at if freezer else {}
    expected = {k: v for k, v in browser["freezeSteps"].items()}
    step_diffs = [abs(a - b) for a, b in zip(ours, browser["losses"])]
    report = {
        "device": device,
        "torch": torch.__version__,
        "steps": len(ours),
        "browserSteps": browser["totalSteps"],
        "freezeStepsEqual": frozen == expected,
        "frozenMatrices": sum(v is not None for v in expected.values()),
        "matrices": len(expected),
        "distinctFreezeSteps": sorted({v for v in expected.values() if v is not None}),
        "minDecisionMargin": min((r["margin"] for r in freezer.rounds), default=None) if freezer else None,
        "finalLossBrowser": browser["losses"][-1],
        "finalLossPytorch": ours[-1],
        "finalLossDiff": abs(ours[-1] - browser["losses"][-1]),
        "maxStepLossDiff": max(step_diffs),
        "browserSecondsPerStep": browser["secondsPerStep"],
        "pytorchSecondsPerStep": result["summary"]["stepSeconds"],
        "mismatches": {k: [expected.get(k), frozen.get(k)] for k in set(expected) | set(frozen) if expected.get(k) != frozen.get(k)},
    }
    report["pass"] = report["freezeStepsEqual"] and report["steps"] == report["browserSteps"] and report["finalLossDiff"] <= FINAL_LOSS_TOL
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    return report


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder")
    p.add_argument("--out", default="outputs/repro")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = p.parse_args()
    r = compare(a.folder, a.out, a.device)
    print(f"\n| device | steps | freeze steps equal | frozen | final loss browser | final loss PyTorch | |diff| | max step |diff| | min margin |")
    print(f"| {r['device']} | {r['steps']} | {r['freezeStepsEqual']} | {r['frozenMatrices']}/{r['matrices']} | {r['finalLossBrowser']:.6f} | {r['finalLossPytorch']:.6f} | {r['finalLossDiff']:.2e} | {r['maxStepLossDiff']:.2e} | {r['minDecisionMargin']:.3g} |")
    print("PASS" if r["pass"] else f"FAIL {r['mismatches']}")
    return 0 if r["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
