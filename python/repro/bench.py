#!/usr/bin/env python3
"""Step time of the exported project on a bert-base-shaped model with random weights (12 layers, hidden 768,
12 heads, intermediate 3072; the built-in model's tokenizer and vocabulary size), dropout on, the app's default
recipe (batch 32, max length 128) on the spam-ham sample: the PyTorch side of BENCHMARKS.md's browser step time.

    python3 repro/bench.py [--methods aflora,lora] [--steps 40] [--out DIR]

Writes DIR/bench.json and prints a table (median seconds per optimizer step after the first two)."""

import argparse
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))

import torch  # noqa: E402
from transformers import BertConfig, BertForSequenceClassification  # noqa: E402

from peft_playground import train  # noqa: E402
from peft_playground.config import SCHEMA, resolve_options  # noqa: E402

BUILTIN = os.path.join(REPO, "public", "models", "builtin")


def bert_base(dir_: str, hidden: int = 768, layers: int = 12) -> str:
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=8000, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=hidden // 64, intermediate_size=4 * hidden, max_position_embeddings=512)
    BertForSequenceClassification(cfg).save_pretrained(dir_)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(BUILTIN, name), dir_)
    return dir_


def project(dir_: str, method: str) -> str:
    raw = json.load(open(os.path.join(REPO, "tests", "fixtures", "run-config", "aflora.json")))
    raw["method"] = {"id": method, "options": resolve_options(method, {})}
    raw["recipe"] = {s["key"]: s["default"] for s in SCHEMA["recipe"]}  # the app's defaults: batch 32, length 128
    raw["data"].update(train="train.csv", validation="validation.csv")
    for name in ("train.csv", "validation.csv"):
        shutil.copy(os.path.join(REPO, "public", "datasets", "spam-ham", name), dir_)
    path = os.path.join(dir_, f"{method}.json")
    json.dump(raw, open(path, "w"))
    return path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", default="aflora,lora")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--out", default="outputs/bench")
    p.add_argument("--hidden", type=int, default=768, help="smaller for a smoke test")
    p.add_argument("--layers", type=int, default=12)
    a = p.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        model = bert_base(os.path.join(tmp, "bert-base-random"), a.hidden, a.layers)
        for method in a.methods.split(","):
            config = project(tmp, method)
            args = train.parser().parse_args(["--config", config, "--model", model, "--output-dir", os.path.join(a.out, method), "--max-steps", str(a.steps)])
            summary = train.run(args, device=device)["summary"]
            rows.append({"method": method, "device": str(device), "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None, "steps": summary["steps"],
                         "batch": 32, "maxLength": 128, "hidden": a.hidden, "layers": a.layers, "msPerStep": summary["stepSeconds"] * 1e3})
    os.makedirs(a.out, exist_ok=True)
    json.dump(rows, open(os.path.join(a.out, "bench.json"), "w"), indent=1)
    print("\n| method | device | model | steps | batch x length | ms / step |")
    for r in rows:
        print(f"| {r['method']} | {r['gpu'] or r['device']} | {r['layers']} x {r['hidden']} | {r['steps']} | 32 x 128 | {r['msPerStep']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
