#!/usr/bin/env python3
"""Golden SentencePiece-Unigram (DeBERTa-v3) tokenizer outputs for tests/io/unigram.golden.test.ts.

    PYTHONPATH=<dir with sentencepiece> python3 scripts/reference/unigram_golden.py tests/fixtures/io/unigram

Needs: sentencepiece (to train the model), transformers, tokenizers. Trains a 2,000-piece Unigram model with
DeBERTa-v3's special pieces ([PAD] 0, [CLS] 1, [SEP] 2, [UNK] 3; nmt_nfkc rules) on
tests/fixtures/io/tokenizer_corpus.txt, loads it the way a deberta-v3 Hub folder (spm.model, no tokenizer.json)
loads: AutoTokenizer -> DebertaV2Tokenizer, and writes into <outdir>:
    spm.model, tokenizer_config.json     the folder as the Hub has it
    tokenizer.json                       what save_pretrained writes (the tokenizers pipeline transformers built)
    golden.json                          the WordPiece golden's strings (tokenizer_golden.py) encoded alone and as
                                         pairs, full and truncated longest_first + padded to each max length;
                                         `spm` holds sentencepiece's own pieces where they differ (recorded only)
Note: transformers 5 builds DeBERTa-v2's normalizer itself (whitespace runs -> " ", NFC, strip right) and does not
apply the spm model's NFKC charsmap, so e.g. full-width letters become [UNK] where sentencepiece maps them to ASCII.
The app reproduces transformers (what the fine-tuned model sees in Python).
"""

import json
import os
import shutil
import sys

import sentencepiece as spm
from transformers import AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenizer_golden import CORPUS, MAX_LENGTHS, PAIRS, SINGLES, encode, random_strings  # noqa: E402

EXTRA = [
    "  leading and trailing spaces  ",
    "multiple     inner   spaces\t\ttabs\n\nnewlines",
    "▁already▁has▁metaspace",
    "full-width ＡＢＣ and ligature ﬁ",
    "[CLS] special [SEP] in text [MASK]",
]


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    prefix = os.path.join(outdir, "spm")
    spm.SentencePieceTrainer.train(
        input=CORPUS, model_prefix=prefix, model_type="unigram", vocab_size=2000, pad_id=0, bos_id=1, eos_id=2,
        unk_id=3, pad_piece="[PAD]", bos_piece="[CLS]", eos_piece="[SEP]", unk_piece="[UNK]",
        normalization_rule_name="nmt_nfkc", character_coverage=0.9995, minloglevel=2,
    )
    os.remove(prefix + ".vocab")
    with open(os.path.join(outdir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer_class": "DebertaV2Tokenizer", "do_lower_case": False, "vocab_type": "spm"}, f, indent=2)
    tok = AutoTokenizer.from_pretrained(outdir)
    saved = os.path.join(outdir, "_saved")
    tok.save_pretrained(saved)
    shutil.move(os.path.join(saved, "tokenizer.json"), os.path.join(outdir, "tokenizer.json"))
    shutil.rmtree(saved)
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")

    singles = SINGLES + EXTRA + random_strings(700, 11)
    pairs = PAIRS + list(zip(random_strings(300, 12), random_strings(300, 13)))
    cases = []
    for text, pair in [(t, None) for t in singles] + pairs:
        tokens = tok.tokenize(text) if pair is None else None
        case = {"text": text, "pair": pair, "tokens": tokens, "full": encode(tok, text, pair, None)}
        case["padded"] = {str(n): encode(tok, text, pair, n) for n in MAX_LENGTHS}
        if pair is None:
            pieces = sp.encode(text, out_type=str)
            if pieces != tokens:
                case["spm"] = pieces
        cases.append(case)
    golden = {
        "maxLengths": MAX_LENGTHS,
        "versions": {"transformers": __import__("transformers").__version__, "tokenizers": __import__("tokenizers").__version__,
                     "sentencepiece": spm.__version__},
        "cases": cases,
    }
    with open(os.path.join(outdir, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=True, separators=(",", ":"))
    differ = sum(1 for c in cases if "spm" in c)
    print(f"{len(cases)} cases ({len(singles)} single, {len(pairs)} pairs) x {len(MAX_LENGTHS) + 1} lengths; "
          f"sentencepiece's own pieces differ on {differ} single texts (recorded)")


if __name__ == "__main__":
    main()
