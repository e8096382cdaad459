#!/usr/bin/env python3
"""Golden WordPiece tokenizer outputs for tests/io/tokenizer.golden.test.ts.

Usage: python3 scripts/reference/tokenizer_golden.py <outdir>
       (then copy <outdir>/* to tests/fixtures/io/tokenizer/)

Needs: tokenizers, transformers. Trains two small WordPiece vocabs (uncased, cased) on
tests/fixtures/io/tokenizer_corpus.txt, saves each variant as a Hugging Face tokenizer folder
(vocab.txt, tokenizer.json, tokenizer_config.json), encodes the committed strings below with
BertTokenizer (slow) and BertTokenizerFast and writes golden.json with the fast outputs
(the ones the app must reproduce) plus the slow ones where they differ.

Known slow/fast differences (recorded, not fatal): the slow tokenizer NFC-normalizes text first,
lower-cases with Python's final-sigma rule, and breaks ties differently in longest-first pair
truncation. Any other difference makes the script exit 1 (after writing everything).
"""

import json
import os
import random
import shutil
import sys
import unicodedata

from tokenizers import BertWordPieceTokenizer
from transformers import BertTokenizer, BertTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "tests", "fixtures", "io", "tokenizer_corpus.txt")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MAX_LENGTHS = [6, 8, 13, 16, 32]

# name -> (vocab trained lower-cased?, do_lower_case, strip_accents, tokenize_chinese_chars)
VARIANTS = {
    "uncased": (True, True, None, True),
    "uncased_keep_accents": (True, True, False, True),
    "uncased_no_cjk": (True, True, None, False),
    "cased": (False, False, None, True),
    "cased_strip_accents": (False, False, True, True),
}

SINGLES = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "",
    "   ",
    "a",
    "I can't believe it's not butter!",
    "Don't stop-believing; e-mail me @ ceo@example.com.",
    "Prices rose 3.5% to $1,234.56 on 2024-01-15.",
    "unaffable unbelievably internationalization",
    "supercalifragilisticexpialidocious",
    "a" * 99,
    "a" * 100,
    "a" * 101,
    "ab" * 50 + " end",
    "é" * 100,
    "é" * 101,
    "Café naïve résumé façade coöperate",
    "CAFÉ NAÏVE RÉSUMÉ",
    "Ångström Ærøskøbing Øresund Kraków Łódź Dvořák",
    "Straße STRASSE Fußball Größe Müller",
    "İstanbul ıi Iı",
    "ΟΔΥΣΣΕΥΣ ταξίδεψε. Ο Οδυσσέας, ΣΟΦΟΣ.",
    "Москва — столица России. Привет!",
    "我们今天去学校学习中文。",
    "你好，世界！这是一个测试。",
    "中文English混合mixed文本",
    "日本語の文章も少し入れます。東京は大きな都市です。",
    "한국어 문장도 조금 있습니다.",
    "𠀀𠀁 CJK extension B and 𝐀𝐁𝐂 math bold",
    "豈 compatibility ideograph",
    "Emoji 😀 and 👍🏽 and 👨\u200d👩\u200d👧 family",
    "hello😀world",
    "🇫🇷 flag ❤️ heart",
    "tab\tseparated\tvalues",
    "new\nline\r\nwindows",
    "non\u00a0breaking\u2003em\u3000ideographic space",
    "line\u2028separator\u2029paragraph",
    "zero\u200bwidth\ufeffbom\u00adsoft hyphen",
    "null\x00char bell\x07char esc\x1bchar",
    "vertical\x0btab form\x0cfeed unit\x1fsep next\x85line",
    "replacement \ufffd char",
    "private \ue000 use",
    "combining e\u0301 accent",
    "Cafe\u0301 decomposed",
    "«quoted» „German“ ‘single’ “double”",
    "¿Dónde está? ¡Qué día!",
    "ellipsis… em—dash en–dash",
    "math: 2+2=4, 3<5>1, a^b, x~y, a|b, `code`",
    "currency € £ ¥ ₹ ¢ $",
    "symbols © ® ™ ° § ¶ • ·",
    "full-width ＡＢＣ！？",
    "brackets (round) [square] {curly} <angle>",
    "slashes a/b\\c",
    "___underscores___ and ***stars***",
    "#hashtag @mention http://example.com/path?q=1&r=2",
    "[CLS] already special [SEP] tokens [MASK]",
    "hello[SEP]world",
    "[mask] lowercased special",
    "[UNK] [PAD]",
    "The jury said the election was conducted.",
    "MIXED case WoRdS In THE Middle",
    "numbers 1234567890 3.14159 1e-10 0x1F",
    "repeated!!!??? punctuation...",
    "'apostrophes' and \"quotes\"",
    "x" + "y" * 120,
    "Le café du coin sert un thé très chaud.",
    "Der Bär läuft über die Straße.",
    "El niño comió una piña en la montaña.",
    "São Paulo é uma cidade grande.",
]

PAIRS = [
    ("How old are you?", "I am six years old."),
    ("The cat sat on the mat.", "A dog lay on the rug, sleeping soundly all afternoon long."),
    ("", "empty first"),
    ("empty second", ""),
    ("Café au lait", "Thé vert"),
    ("我们今天去学校", "学习中文"),
    ("a b c d", "e f g h"),
    ("one two three four five six seven", "eight"),
    ("eight", "one two three four five six seven"),
    ("The jury further said in term-end presentments", "that the City Executive Committee deserves praise"),
    ("[CLS] inside pair", "second [SEP] part"),
    ("Emoji 😀 first", "second 👍"),
]

WORDS = (
    "the of and to in jury election county city said was that for praise committee "
    "café thé élève forêt über straße niño montaña 我们 学校 中文 東京 "
    "running jumped happily unbelievable internationalization antidisestablishment"
).split()
CHAR_POOL = list(".,;:!?'\"()[]{}<>-_/\\@#$%^&*~`|+=") + [
    " ", " ", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "\u200b", "\x00", "\x07",
    "é", "ü", "ñ", "ç", "Å", "ß", "中", "文", "😀", "—", "…", "«", "»", "¿", "。", "，", "e\u0301",
]


def random_strings(count, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 14)):
            r = rng.random()
            if r < 0.55:
                word = rng.choice(WORDS)
                parts.append(word.upper() if rng.random() < 0.15 else word.capitalize() if rng.random() < 0.2 else word)
            elif r < 0.85:
                parts.append(rng.choice(CHAR_POOL))
            else:
                parts.append(rng.choice(WORDS) + rng.choice(CHAR_POOL) + rng.choice(WORDS))
            parts.append(" " if rng.random() < 0.7 else "")
        out.append("".join(parts))
    return out


def train_vocab(lowercase, outdir):
    tok = BertWordPieceTokenizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase
    )
    tok.train(
        [CORPUS], vocab_size=2500, min_frequency=2, special_tokens=SPECIALS, limit_alphabet=1000,
        wordpieces_prefix="##",
    )
    os.makedirs(outdir, exist_ok=True)
    tok.save_model(outdir)  # writes vocab.txt
    return os.path.join(outdir, "vocab.txt")


def encode(tokenizer, text, pair, max_length):
    kwargs = {"add_special_tokens": True, "return_token_type_ids": True, "return_attention_mask": True}
    if max_length is not None:
        kwargs.update(truncation="longest_first", max_length=max_length, padding="max_length")
    enc = tokenizer(text, pair, **kwargs) if pair is not None else tokenizer(text, **kwargs)
    return {
        "ids": list(enc["input_ids"]),
        "typeIds": list(enc["token_type_ids"]),
        "mask": list(enc["attention_mask"]),
    }


def explain_difference(text, pair, max_length):
    whole = text + (pair or "")
    if unicodedata.normalize("NFC", whole) != whole:
        return "nfc"
    if "\u03a3" in whole:
        # Python's str.lower() applies the final-sigma rule, Rust lower-cases char by char.
        return "final-sigma"
    if pair is not None and max_length is not None:
        return "pair-truncation"
    return None


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    outdir = sys.argv[1]
    import tokenizers
    import transformers

    print(f"tokenizers {tokenizers.__version__}, transformers {transformers.__version__}")
    os.makedirs(outdir, exist_ok=True)
    vocabs = {
        True: train_vocab(True, os.path.join(outdir, "_vocab_uncased")),
        False: train_vocab(False, os.path.join(outdir, "_vocab_cased")),
    }
    singles = SINGLES + random_strings(150, seed=20240611)
    inputs = [(s, None) for s in singles] + PAIRS
    cases, known, fatal = [], [], []
    variants_meta = {}
    for name, (lower_vocab, do_lower, strip, cjk) in VARIANTS.items():
        common = dict(do_lower_case=do_lower, strip_accents=strip, tokenize_chinese_chars=cjk)
        vdir = os.path.join(outdir, name)
        os.makedirs(vdir, exist_ok=True)
        shutil.copyfile(vocabs[lower_vocab], os.path.join(vdir, "vocab.txt"))
        # from_pretrained on a folder with vocab.txt works across transformers 4.x and 5.x.
        fast = BertTokenizerFast.from_pretrained(vdir, **common)
        slow = BertTokenizer.from_pretrained(vdir, **common)
        if not fast.is_fast or slow.is_fast:
            print(f"note: {name}: fast.is_fast={fast.is_fast} slow.is_fast={slow.is_fast}")
        fast.save_pretrained(vdir)  # vocab.txt + tokenizer.json + tokenizer_config.json
        variants_meta[name] = {
            "dir": name, "doLowerCase": do_lower, "stripAccents": strip, "tokenizeChineseChars": cjk,
        }
        for text, pair in inputs:
            case = {"variant": name, "text": text, "pair": pair,
                    "tokens": fast.tokenize(text, pair) if pair is not None else fast.tokenize(text),
                    "full": None, "padded": {}}
            for max_length in [None] + MAX_LENGTHS:
                f = encode(fast, text, pair, max_length)
                s = encode(slow, text, pair, max_length)
                if max_length is None:
                    case["full"] = f
                else:
                    case["padded"][str(max_length)] = f
                if f != s:
                    record = {"variant": name, "text": text, "pair": pair, "maxLength": max_length,
                              "fast": f["ids"], "slow": s["ids"]}
                    why = explain_difference(text, pair, max_length)
                    (known if why else fatal).append({**record, "reason": why})
            cases.append(case)
    golden = {
        "maxLengths": MAX_LENGTHS,
        "versions": {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__},
        "variants": variants_meta,
        "cases": cases,
        "slowFastDifferences": known,
        "unexplainedDifferences": fatal,
    }
    with open(os.path.join(outdir, "golden.json"), "w", encoding="utf-8") as fh:
        json.dump(golden, fh, ensure_ascii=True, indent=None, separators=(",", ":"))
    print(f"wrote {len(cases)} cases for {len(VARIANTS)} variants to {outdir}")
    print(f"known slow/fast differences: {len(known)}; unexplained: {len(fatal)}")
    for d in fatal[:20]:
        print("UNEXPLAINED", json.dumps(d, ensure_ascii=True))
    if fatal:
        sys.exit(1)


if __name__ == "__main__":
    main()
