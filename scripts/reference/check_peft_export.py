#!/usr/bin/env python3
"""Checks that a PEFT adapter exported by the app reproduces the app's logits in PyTorch.

Usage: python3 scripts/reference/check_peft_export.py <exported_dir_or_zip> <base_model_dir> <inputs.json>

  exported_dir_or_zip  adapter_config.json + adapter_model.safetensors (a folder, or the app's zip)
  base_model_dir       the Hugging Face BERT checkpoint the run started from (config.json + weights)
  inputs.json          {"num_labels": 2,
                        "input_ids": [[...], ...], "token_type_ids": [[...], ...],
                        "attention_mask": [[...], ...],
                        "logits": [[...], ...]}          <- the app's logits for these inputs

Loads BertForSequenceClassification (float32, eval mode, dropout off), wraps it with
PeftModel.from_pretrained, runs the inputs and compares with the app's logits.
Exit status 0 when max |diff| < 1e-4, 1 otherwise (2 on bad arguments).
Needs: torch, transformers, peft, safetensors.
"""

import json
import os
import sys
import tempfile
import zipfile

TOLERANCE = 1e-4


def adapter_dir(path, tmp):
    if os.path.isdir(path):
        return path
    with zipfile.ZipFile(path) as z:
        z.extractall(tmp)
    return tmp


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        sys.exit(2)
    exported, base_dir, inputs_path = sys.argv[1:]
    import torch
    from peft import PeftModel
    from transformers import BertForSequenceClassification

    with open(inputs_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    num_labels = int(spec["num_labels"])
    base, info = BertForSequenceClassification.from_pretrained(
        base_dir, num_labels=num_labels, torch_dtype=torch.float32, output_loading_info=True
    )
    missing = [k for k in info.get("missing_keys", []) if not k.startswith("classifier.")]
    if missing:
        print(f"WARNING: base checkpoint lacks {missing}: randomly initialised here, so logits cannot match")
    base.eval()
    feed = {
        key: torch.tensor(spec[key], dtype=torch.long)
        for key in ("input_ids", "token_type_ids", "attention_mask")
    }
    expected = torch.tensor(spec["logits"], dtype=torch.float32)

    with tempfile.TemporaryDirectory() as tmp:
        folder = adapter_dir(exported, tmp)
        with open(os.path.join(folder, "adapter_config.json"), encoding="utf-8") as fh:
            config = json.load(fh)
        print(f"adapter: r={config.get('r')} lora_alpha={config.get('lora_alpha')} "
              f"targets={len(config.get('target_modules', []))} modules_to_save={config.get('modules_to_save')}")
        with torch.no_grad():
            base_logits = base(**feed).logits.clone()
        model = PeftModel.from_pretrained(base, folder)
        model.eval()
        with torch.no_grad():
            logits = model(**feed).logits

    if logits.shape != expected.shape:
        print(f"FAIL: logits shape {tuple(logits.shape)} != app's {tuple(expected.shape)}")
        sys.exit(1)
    diff = (logits - expected).abs().max().item()
    effect = (logits - base_logits).abs().max().item()
    print(f"max |peft - app| = {diff:.3e} (tolerance {TOLERANCE:g}); adapter changes logits by up to {effect:.3e}")
    print("peft logits (first rows):", logits[:3].tolist())
    print("app  logits (first rows):", expected[:3].tolist())
    if not diff < TOLERANCE:
        print("FAIL")
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
