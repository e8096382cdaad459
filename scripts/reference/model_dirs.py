#!/usr/bin/env python3
"""Tiny seeded RoBERTa and DeBERTa-v2 model folders, as the Hub has them, for tests/io/model-dirs.test.ts.

    PYTHONPATH=<dir with sentencepiece + protobuf> python3 scripts/reference/model_dirs.py tests/fixtures/model-dirs

Needs: torch, transformers (no downloads); sentencepiece and protobuf for the DeBERTa folder without tokenizer.json. Run after bpe_golden.py and unigram_golden.py: the folders use their
tokenizers (tests/fixtures/io/bpe/hub + files, tests/fixtures/io/unigram), which are not copied again. For each family
writes <outdir>/<family>/: config.json + model.safetensors (save_pretrained of a seeded random
*ForSequenceClassification, 2 labels, dropout 0) and golden.json: texts and pairs as AutoTokenizer encodes them
(truncation longest_first + padding to MAX_LENGTH) and the logits AutoModelForSequenceClassification gives for them,
both loaded from the assembled folder (config, weights, tokenizer) as from_pretrained loads a Hub repo: "hub" with
every tokenizer file, "old" without tokenizer.json (RoBERTa's <mask> is then not lstrip: other ids).
"""

import json
import os
import shutil
import sys
import tempfile

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, DebertaV2Config, RobertaConfig

HERE = os.path.dirname(os.path.abspath(__file__))
IO = os.path.join(HERE, "..", "..", "tests", "fixtures", "io")
MAX_LENGTH = 16
TOKENIZER_FILES = {
    "roberta": [("bpe/hub", "tokenizer.json"), ("bpe/hub", "tokenizer_config.json"), ("bpe/files", "vocab.json"), ("bpe/files", "merges.txt")],
    "deberta": [("unigram", "tokenizer.json"), ("unigram", "tokenizer_config.json"), ("unigram", "spm.model")],
}
TEXTS = [
    ("The jury said the election was conducted fairly.", None),
    ("Hello <mask> world!", None),
    ("Café naïve résumé 😀", None),
    ("A much longer sentence that will certainly be cut short by the truncation at sixteen tokens, and then some.", None),
    ("How old are you?", "I am six years old."),
    ("The cat sat on the mat all afternoon long, sleeping soundly.", "A dog lay on the rug."),
]


def config(family):
    common = dict(num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, hidden_act="gelu", num_labels=2,
                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    if family == "roberta":
        # 34 positions: padding_idx 1, so 32 tokens fit.
        return RobertaConfig(vocab_size=1200, hidden_size=16, max_position_embeddings=34, pad_token_id=1, bos_token_id=0,
                             eos_token_id=2, type_vocab_size=1, layer_norm_eps=1e-5, classifier_dropout=0.0, **common)
    # deberta-v3-xsmall's shape in small: relative attention with log buckets, shared keys, no absolute positions.
    return DebertaV2Config(vocab_size=2001, hidden_size=16, max_position_embeddings=64, type_vocab_size=0, layer_norm_eps=1e-7,
                           relative_attention=True, max_relative_positions=-1, position_buckets=8, norm_rel_ebd="layer_norm",
                           share_att_key=True, pos_att_type=["p2c", "c2p"], position_biased_input=False, pad_token_id=0,
                           pooler_hidden_size=16, pooler_dropout=0, pooler_hidden_act="gelu", **common)


def main(outdir):
    for family, files in TOKENIZER_FILES.items():
        torch.manual_seed(4321)
        cfg = config(family)
        model = AutoModelForSequenceClassification.from_config(cfg).eval()
        with torch.no_grad():
            # Random non-zero biases and LayerNorms too, so every parameter path shows in the logits.
            for name, p in model.named_parameters():
                if "LayerNorm" in name:
                    p.copy_(1 + 0.1 * torch.randn_like(p) if name.endswith("weight") else 0.1 * torch.randn_like(p))
                else:
                    p.copy_(0.2 * torch.randn_like(p))
        target = os.path.join(outdir, family)
        shutil.rmtree(target, ignore_errors=True)
        model.save_pretrained(target)
        variants = {}
        # "hub": every tokenizer file; "old": without tokenizer.json (vocab.json + merges.txt / spm.model only).
        for variant, skip in (("hub", None), ("old", "tokenizer.json")):
            with tempfile.TemporaryDirectory() as folder:
                for name in os.listdir(target):
                    shutil.copy(os.path.join(target, name), folder)
                for sub, name in files:
                    if name != skip:
                        shutil.copy(os.path.join(IO, sub, name), folder)
                tok = AutoTokenizer.from_pretrained(folder)
                loaded = AutoModelForSequenceClassification.from_pretrained(folder).eval()
                cases = []
                for text, pair in TEXTS:
                    args = (text, pair) if pair is not None else (text,)
                    enc = tok(*args, truncation="longest_first", max_length=MAX_LENGTH, padding="max_length", return_tensors="pt")
                    with torch.no_grad():
                        logits = loaded(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits[0]
                    cases.append({"text": text, "pair": pair, "ids": enc["input_ids"][0].tolist(),
                                  "mask": enc["attention_mask"][0].tolist(), "logits": logits.tolist()})
                variants[variant] = {"tokenizer": type(tok).__name__, "cases": cases}
        golden = {"model": type(loaded).__name__, "maxLength": MAX_LENGTH,
                  "tokenizerFiles": [f"tests/fixtures/io/{sub}/{name}" for sub, name in files], **variants}
        with open(os.path.join(target, "golden.json"), "w", encoding="utf-8") as f:
            json.dump(golden, f, ensure_ascii=True, indent=1)
        differ = sum(a != b for a, b in zip(variants["hub"]["cases"], variants["old"]["cases"]))
        print(f"{family}: {type(loaded).__name__} + {type(tok).__name__}, {len(cases)} cases ({differ} differ without "
              f"tokenizer.json) -> {target}")


if __name__ == "__main__":
    main(sys.argv[1])
