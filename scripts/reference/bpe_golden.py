#!/usr/bin/env python3
"""Golden byte-level BPE (RoBERTa) tokenizer outputs for tests/io/bpe.golden.test.ts.

    python3 scripts/reference/bpe_golden.py tests/fixtures/io/bpe

Needs: tokenizers, transformers (no downloads). Trains a seeded 1,200-token byte-level BPE with RoBERTa's special
tokens (<s> 0, <pad> 1, </s> 2, <unk> 3, <mask> 4) on tests/fixtures/io/tokenizer_corpus.txt and writes into <outdir>
two folders, each loaded the way AutoTokenizer loads a RoBERTa Hub folder (-> RobertaTokenizer):
    files/   vocab.json + merges.txt + tokenizer_config.json (old checkpoints without tokenizer.json)
    hub/     tokenizer.json + tokenizer_config.json as roberta-base ships them: <mask> is lstrip (it eats the space
             before it) and the special tokens are `normalized`, unlike what transformers 5 builds from vocab.json
and golden.json: the WordPiece golden's strings (tokenizer_golden.py) plus RoBERTa cases (contractions, space runs,
special tokens in text), alone and as pairs, encoded by hub/ untruncated and truncated longest_first + padded to
each max length; `files` holds files/'s untruncated ids where they differ from hub/'s (the <mask> cases);
`templates`: hub/'s tokenizer.json with other post-processors (TemplateProcessing in RoBERTa's and BERT's shape,
BertProcessing), encoded by Rust `tokenizers` with its truncation and padding.
"""

import json
import os
import shutil
import sys

from tokenizers import ByteLevelBPETokenizer, Tokenizer
from transformers import AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenizer_golden import CORPUS, MAX_LENGTHS, PAIRS, SINGLES, encode, random_strings  # noqa: E402

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
EXTRA = [
    "I'm sure they've said we'll go, but he'd say it's 'not' what you're after.",
    "DON'T SHOUT IT'S LOUD",
    "trailing spaces   ",
    "   leading spaces",
    "two  spaces, three   spaces, tab\t\tand newline\n\n end",
    "space before newline \n and after\n ",
    "Hello <mask> world, <mask>. And<mask>glued",
    "  <mask>  two spaces around",
    "<s> bos and </s> eos and <pad> pad and <unk> unk in text",
    "</s></s> doubled",
    "<mas k> not a mask, <MASK> neither",
    "digits 12345678901234567890 and 3.14 and 1,000,000",
    "unicode digits ٣٤٥ and ½ and ² superscript",
    "ǅ titlecase ǈ letters and ʰ modifier",
    "accents café CAFÉ cafe\u0301",
    "Ġ and Ċ already look like byte-level characters",
    "\u00a0nbsp\u00a0 and \u2003em\u2003 spaces",
    "😀😀😀 repeated emoji and 👩🏽‍💻 ZWJ",
    "x" * 300,
]


def write_folder(path, files):
    os.makedirs(path, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(path, name), "w", encoding="utf-8") as f:
            f.write(text)


def template_cases(tokenizer_json, singles, pairs):
    """Other post-processors a RoBERTa-family tokenizer.json may carry, run by Rust `tokenizers` itself (what
    transformers' fast tokenizers run): ids and token types, untruncated and truncated + padded."""
    special = lambda token, type_id: {"SpecialToken": {"id": token, "type_id": type_id}}  # noqa: E731
    seq = lambda name, type_id: {"Sequence": {"id": name, "type_id": type_id}}  # noqa: E731
    tokens = {t: {"id": t, "ids": [i], "tokens": [t]} for t, i in (("<s>", 0), ("</s>", 2))}
    posts = {
        "TemplateProcessing (RoBERTa)": {"type": "TemplateProcessing", "single": [special("<s>", 0), seq("A", 0), special("</s>", 0)],
                                         "pair": [special("<s>", 0), seq("A", 0), special("</s>", 0), special("</s>", 0), seq("B", 0), special("</s>", 0)],
                                         "special_tokens": tokens},
        "TemplateProcessing (BERT)": {"type": "TemplateProcessing", "single": [special("<s>", 0), seq("A", 0), special("</s>", 0)],
                                      "pair": [special("<s>", 0), seq("A", 0), special("</s>", 0), seq("B", 1), special("</s>", 1)],
                                      "special_tokens": tokens},
        "BertProcessing": {"type": "BertProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0]},
    }
    out = []
    for name, post in posts.items():
        tok = Tokenizer.from_str(json.dumps({**tokenizer_json, "post_processor": post}))
        cases = []
        for text, pair in [(t, None) for t in singles] + pairs:
            case = {"text": text, "pair": pair, "padded": {}}
            for n in [None] + MAX_LENGTHS:
                if n is None:
                    tok.no_truncation()
                    tok.no_padding()
                else:
                    tok.enable_truncation(max_length=n, strategy="longest_first")
                    tok.enable_padding(length=n, pad_id=1, pad_token="<pad>")
                enc = tok.encode(text, pair) if pair is not None else tok.encode(text)
                value = {"ids": enc.ids, "typeIds": enc.type_ids}
                if n is None:
                    case["full"] = value
                else:
                    case["padded"][str(n)] = value
            cases.append(case)
        out.append({"name": name, "postProcessor": post, "cases": cases})
    return out


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    bpe = ByteLevelBPETokenizer(add_prefix_space=False, trim_offsets=True)
    bpe.train([CORPUS], vocab_size=1200, min_frequency=2, special_tokens=SPECIALS, show_progress=False)
    files_dir, hub_dir = os.path.join(outdir, "files"), os.path.join(outdir, "hub")
    shutil.rmtree(files_dir, ignore_errors=True)
    shutil.rmtree(hub_dir, ignore_errors=True)
    os.makedirs(files_dir)
    bpe.save_model(files_dir)  # vocab.json + merges.txt
    config = {"tokenizer_class": "RobertaTokenizer", "model_max_length": 512}
    write_folder(files_dir, {"tokenizer_config.json": json.dumps(config, indent=2)})

    from_files = AutoTokenizer.from_pretrained(files_dir)
    saved = os.path.join(outdir, "_saved")
    from_files.save_pretrained(saved)
    with open(os.path.join(saved, "tokenizer.json"), encoding="utf-8") as f:
        tokenizer_json = json.load(f)
    shutil.rmtree(saved)
    for token in tokenizer_json["added_tokens"]:
        token["normalized"] = True
        token["lstrip"] = token["content"] == "<mask>"
    write_folder(hub_dir, {"tokenizer.json": json.dumps(tokenizer_json, ensure_ascii=False), "tokenizer_config.json": json.dumps(config, indent=2)})
    hub = AutoTokenizer.from_pretrained(hub_dir)
    assert type(hub).__name__ == "RobertaTokenizer" and hub.is_fast, type(hub)

    singles = SINGLES + EXTRA + random_strings(700, 21)
    pairs = PAIRS + [("Hello <mask> there", "and <mask> here"), ("x" * 40, "short")]
    pairs += list(zip(random_strings(300, 22), random_strings(300, 23)))
    cases = []
    files_differ = 0
    for text, pair in [(t, None) for t in singles] + pairs:
        tokens = hub.tokenize(text) if pair is None else None
        case = {"text": text, "pair": pair, "tokens": tokens, "full": encode(hub, text, pair, None)}
        case["padded"] = {str(n): encode(hub, text, pair, n) for n in MAX_LENGTHS}
        files_ids = encode(from_files, text, pair, None)["ids"]
        if files_ids != case["full"]["ids"]:
            case["files"] = files_ids
            files_differ += 1
        cases.append(case)
    golden = {
        "templates": template_cases(tokenizer_json, singles[:20], pairs[:150]),
        "maxLengths": MAX_LENGTHS,
        "versions": {"transformers": __import__("transformers").__version__, "tokenizers": __import__("tokenizers").__version__},
        "cases": cases,
    }
    with open(os.path.join(outdir, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=True, separators=(",", ":"))
    print(f"{len(cases)} cases ({len(singles)} single, {len(pairs)} pairs) x {len(MAX_LENGTHS) + 1} lengths; "
          f"vocab.json + merges.txt differ from tokenizer.json on {files_differ} (the <mask> lstrip)")


if __name__ == "__main__":
    main()
