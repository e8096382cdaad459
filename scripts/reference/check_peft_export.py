#!/usr/bin/env python3
"""Checks that a PEFT adapter exported by the app reproduces the app's logits in PyTorch.

Usage: python3 scripts/reference/check_peft_export.py <exported_dir_or_zip> <base_model_dir> <inputs.json> [result.json]

  exported_dir_or_zip  adapter_config.json + adapter_model.safetensors (a folder, or the app's zip)
  base_model_dir       the Hugging Face checkpoint the run started from (config.json + weights; any family the app
                       runs: BERT, DistilBERT, RoBERTa, ELECTRA, DeBERTa-v2/v3)
  inputs.json          {"num_labels": 2,
                        "input_ids": [[...], ...], "token_type_ids": [[...], ...],
                        "attention_mask": [[...], ...],
                        "logits": [[...], ...]}          <- the app's logits for these inputs
                       or, for rows the app classified in its Try-it panel (tests/e2e):
                       {"num_labels": 2, "texts": ["...", ...], "max_length": 16,
                        "probabilities": [[...], ...]}   <- the app's class probabilities
                       texts are tokenized by the base folder's tokenizer (truncated to max_length, as the app);
                       probabilities fix the logits up to a shift per row (softmax ignores it), so both sides
                       are compared as logits minus their row mean (log p for the app's side).
  result.json          optional: where to write the numbers (diffs, versions, pass/fail)

Loads AutoModelForSequenceClassification (float32, eager attention, eval mode, dropout off; token types passed
where the family's forward takes them), wraps it with PeftModel.from_pretrained, checks that every tensor of the adapter file was loaded unchanged (PEFT only warns
about keys it cannot place), runs the inputs and compares with the app's logits.
Exit status 0 when every file tensor was loaded and max |diff| < 1e-4, 1 otherwise (2 on bad arguments).
Needs: torch, transformers, peft, safetensors. Written for torch 2.11, transformers 5.x, peft 0.21.
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


def loaded_adapter_report(model, folder):
    """Adapter file tensors vs what PEFT holds after loading, both in PEFT's saved key format."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import load_file

    in_file = load_file(os.path.join(folder, "adapter_model.safetensors"))
    in_model = get_peft_model_state_dict(model)
    not_loaded = sorted(set(in_file) - set(in_model))
    not_in_file = sorted(set(in_model) - set(in_file))
    value_diff = 0.0
    for key in set(in_file) & set(in_model):
        a, b = in_file[key].float(), in_model[key].detach().float().cpu()
        if a.shape != b.shape:
            not_loaded.append(f"{key} (shape {tuple(a.shape)} in file, {tuple(b.shape)} in model)")
            continue
        value_diff = max(value_diff, (a - b).abs().max().item() if a.numel() else 0.0)
    return {"file_tensors": len(in_file), "not_loaded": not_loaded, "not_in_file": not_in_file,
            "max_value_diff": value_diff}


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__)
        sys.exit(2)
    exported, base_dir, inputs_path = sys.argv[1:4]
    result_path = sys.argv[4] if len(sys.argv) == 5 else None
    import inspect

    import peft
    import torch
    import transformers
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(0)
    with open(inputs_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    num_labels = int(spec["num_labels"])

    with tempfile.TemporaryDirectory() as tmp:
        folder = adapter_dir(exported, tmp)
        with open(os.path.join(folder, "adapter_config.json"), encoding="utf-8") as fh:
            config = json.load(fh)
        # `dtype` (transformers 5 renamed torch_dtype); eager attention = the plain softmax the app computes.
        base, info = AutoModelForSequenceClassification.from_pretrained(
            base_dir, num_labels=num_labels, dtype=torch.float32, attn_implementation="eager", output_loading_info=True
        )
        # What the checkpoint lacks is initialised at random here: fine only where the adapter file carries it.
        saved = tuple(f"{m}." for m in config.get("modules_to_save") or [])
        missing = [k for k in info.get("missing_keys", []) if not k.startswith(saved)]
        if missing:
            print(f"WARNING: base checkpoint lacks {missing}: randomly initialised here, so logits cannot match")
        base.eval()
        accepted = inspect.signature(base.forward).parameters
        if "texts" in spec:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(base_dir)
            encoded = tokenizer(spec["texts"], truncation=True, max_length=int(spec["max_length"]), padding=True,
                                return_tensors="pt")
            feed = {key: value for key, value in encoded.items() if key in accepted}
        else:
            feed = {
                key: torch.tensor(spec[key], dtype=torch.long)
                for key in ("input_ids", "token_type_ids", "attention_mask")
                if key in accepted
            }
        from_probabilities = "logits" not in spec
        if from_probabilities:
            expected = centered(torch.log(torch.tensor(spec["probabilities"], dtype=torch.float64))).float()
        else:
            expected = torch.tensor(spec["logits"], dtype=torch.float32)
        print(f"adapter: r={config.get('r')} lora_alpha={config.get('lora_alpha')} "
              f"targets={len(config.get('target_modules', []))} modules_to_save={config.get('modules_to_save')}")
        with torch.no_grad():
            base_logits = base(**feed).logits.clone()
        model = PeftModel.from_pretrained(base, folder)
        model.eval()
        report = loaded_adapter_report(model, folder)
        with torch.no_grad():
            logits = model(**feed).logits
        if from_probabilities:
            base_logits, logits = centered(base_logits), centered(logits)

    versions = {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__}
    print("versions:", versions)
    print(f"adapter file: {report['file_tensors']} tensors, not loaded: {report['not_loaded'] or 'none'}, "
          f"max |file - loaded| = {report['max_value_diff']:.3e}")
    if report["not_in_file"]:
        print(f"WARNING: PEFT holds adapter tensors the file lacks (left at their init): {report['not_in_file']}")
    loaded_ok = not report["not_loaded"] and not report["not_in_file"] and report["max_value_diff"] == 0.0

    result = {"adapter": exported, "base_model": base_dir, "inputs": inputs_path, "versions": versions,
              "compared": "logits minus row mean (from probabilities)" if from_probabilities else "logits",
              "tolerance": TOLERANCE, "rows": int(expected.shape[0]), "adapter_file": report, "passed": False}
    if logits.shape != expected.shape:
        print(f"FAIL: logits shape {tuple(logits.shape)} != app's {tuple(expected.shape)}")
        write_result(result_path, result)
        sys.exit(1)
    diff = (logits - expected).abs().max().item()
    effect = (logits - base_logits).abs().max().item()
    result.update({"max_abs_diff": diff, "adapter_effect": effect})
    print(f"max |peft - app| = {diff:.3e} (tolerance {TOLERANCE:g}); adapter changes logits by up to {effect:.3e}")
    print("peft logits (first rows):", logits[:3].tolist())
    print("app  logits (first rows):", expected[:3].tolist())
    result["passed"] = bool(diff < TOLERANCE and loaded_ok)
    write_result(result_path, result)
    if not result["passed"]:
        print("FAIL")
        sys.exit(1)
    print("OK")


def centered(logits):
    """Logits minus their row mean: what class probabilities determine of them."""
    return logits - logits.mean(dim=-1, keepdim=True)


def write_result(path, result):
    if path is None:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=2)
        fh.write("\n")


if __name__ == "__main__":
    main()
