#!/usr/bin/env python3
"""Fill-mask check of the built-in model with numpy only (no torch / transformers / tokenizers).

    python3 scripts/builtin/fill_mask_check.py [model_dir=public/models/builtin] [--heldout build/corpus/heldout.txt]
        [--update-report]

Loads model.safetensors (parsed by hand), tokenises with vocab.txt (uncased BERT basic tokenisation + greedy
WordPiece), runs the BERT encoder and the MLM head, and prints the top 5 for the probes of
scripts/reference/pretrain_builtin.py. --heldout also measures masked-token accuracy on held-out text (an
independent check that this forward pass matches the trained model). --update-report writes the results into
pretrain_report.json's self_test, replacing the GPU run's fill-mask samples: that run reloaded the model with a
tokenizer.json whose vocabulary held only the special tokens, so its probes were all [UNK].
"""

import argparse
import json
import math
import os
import struct
import unicodedata

import numpy as np

# Same probes as scripts/reference/pretrain_builtin.py (FILL_MASK_PROBES).
FILL_MASK_PROBES = [
    "the president of the united states [MASK] a speech on monday.",
    "she opened the [MASK] and walked into the room.",
    "click here to [MASK] from our mailing list.",
    "the results of the experiment are shown in [MASK] 2.",
    "he said that he would [MASK] the money back next week.",
]
TOKENIZER_EXAMPLE = "The Jury said it did find irregularities."
PAD, UNK, CLS, SEP, MASK = range(5)


def load_safetensors(path):
    """{name: float32 array}: 8-byte little-endian header length, JSON header, raw little-endian tensor bytes."""
    with open(path, "rb") as f:
        raw = f.read()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    header.pop("__metadata__", None)
    data = memoryview(raw)[8 + header_len :]
    tensors = {}
    for name, entry in header.items():
        assert entry["dtype"] == "F32", f"{name}: {entry['dtype']}"
        begin, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(entry["shape"])
    return tensors


class WordPiece:
    """Uncased BERT tokenisation: clean, lower-case, strip accents, split on whitespace and punctuation,
    then greedy longest-match WordPiece with '##' continuations (as BertTokenizer with do_lower_case)."""

    def __init__(self, vocab_path):
        with open(vocab_path, encoding="utf-8") as f:
            self.tokens = [line.rstrip("\n") for line in f]
        self.ids = {t: i for i, t in enumerate(self.tokens)}

    @staticmethod
    def _is_punct(ch):
        cp = ord(ch)
        if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
            return True
        return unicodedata.category(ch).startswith("P")

    def _basic(self, text):
        text = "".join(" " if ch.isspace() else ch for ch in text if ord(ch) not in (0, 0xFFFD) and unicodedata.category(ch) != "Cc" or ch in "\t\n\r")
        text = unicodedata.normalize("NFD", text.lower())
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
        words = []
        for word in text.split():
            current = ""
            for ch in word:
                if self._is_punct(ch):
                    if current:
                        words.append(current)
                    words.append(ch)
                    current = ""
                else:
                    current += ch
            if current:
                words.append(current)
        return words

    def _wordpiece(self, word):
        if len(word) > 100:
            return [UNK]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    break
                end -= 1
            if end == start:
                return [UNK]
            pieces.append(self.ids[piece])
            start = end
        return pieces

    def encode(self, text):
        """[CLS] pieces [SEP]; the literal '[MASK]' becomes the mask token."""
        ids = [CLS]
        for i, part in enumerate(text.split("[MASK]")):
            if i:
                ids.append(MASK)
            for word in self._basic(part):
                ids.extend(self._wordpiece(word))
        return ids + [SEP]


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x):  # exact (erf) GELU, config hidden_act "gelu"
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


class Bert:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
            self.config = json.load(f)
        assert self.config["hidden_act"] == "gelu", self.config["hidden_act"]
        self.w = {k: v.astype(np.float64) for k, v in load_safetensors(os.path.join(model_dir, "model.safetensors")).items()}
        # The MLM decoder is tied to the word embeddings; a checkpoint may also store it under its own name.
        self.decoder = self.w.get("cls.predictions.decoder.weight", self.w["bert.embeddings.word_embeddings.weight"])
        self.decoder_bias = self.w.get("cls.predictions.decoder.bias", self.w["cls.predictions.bias"])

    def _linear(self, x, name):  # x [..., in] -> [..., out]; torch layout weight [out, in]
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def _ln(self, x, name):
        return layer_norm(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"], self.config["layer_norm_eps"])

    def mlm_logits(self, ids):
        """ids [L] (one unpadded single-segment sequence) -> MLM logits [L, V]."""
        w, c = self.w, self.config
        n, heads = len(ids), c["num_attention_heads"]
        d = c["hidden_size"] // heads
        x = w["bert.embeddings.word_embeddings.weight"][ids] + w["bert.embeddings.position_embeddings.weight"][:n]
        x = self._ln(x + w["bert.embeddings.token_type_embeddings.weight"][0], "bert.embeddings.LayerNorm")  # [L, H]
        for i in range(c["num_hidden_layers"]):
            p = f"bert.encoder.layer.{i}"
            q, k, v = (self._linear(x, f"{p}.attention.self.{m}").reshape(n, heads, d).transpose(1, 0, 2) for m in ("query", "key", "value"))
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)  # [heads, L, L]
            probs = np.exp(scores - scores.max(-1, keepdims=True))
            probs /= probs.sum(-1, keepdims=True)
            context = (probs @ v).transpose(1, 0, 2).reshape(n, heads * d)  # [L, H]
            x = self._ln(self._linear(context, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
            inner = gelu(self._linear(x, f"{p}.intermediate.dense"))  # [L, I]
            x = self._ln(self._linear(inner, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
        h = self._ln(gelu(self._linear(x, "cls.predictions.transform.dense")), "cls.predictions.transform.LayerNorm")
        return h @ self.decoder.T + self.decoder_bias  # [L, V]


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def fill_mask(bert, tok, text):
    ids = tok.encode(text)
    assert UNK not in ids, f"{text!r} has [UNK] pieces: {[tok.tokens[i] for i in ids]}"
    probs = softmax(bert.mlm_logits(ids)[ids.index(MASK)])
    top = np.argsort(-probs)[:5]
    return {"text": text, "top5": [{"token": tok.tokens[i], "p": round(float(probs[i]), 4)} for i in top]}


def heldout_accuracy(bert, tok, path, windows=120, body=126, rate=0.15, seed=0):
    """Masked-token accuracy on `windows` evenly spread held-out windows of `body` pieces, masked like the
    training evaluation (15 % chosen: 80 % [MASK], 10 % random piece, 10 % kept), so comparable with
    pretrain_report.json's heldout.mlm_accuracy up to sampling noise; also reported for the [MASK]ed ones alone."""
    with open(path, encoding="utf-8") as f:
        stream = [i for line in f if line.strip() for i in tok.encode(line.strip())[1:-1]]
    rng = np.random.default_rng(seed)
    step = max(len(stream) // windows, body)
    correct = count = mask_correct = mask_count = 0
    for start in range(0, min(len(stream) - body, step * windows), step):
        ids = np.array([CLS, *stream[start : start + body], SEP])
        chosen = (rng.random(len(ids)) < rate) & (ids > MASK)
        action = rng.random(len(ids))
        to_mask = chosen & (action < 0.8)
        masked = np.where(to_mask, MASK, ids)
        masked = np.where(chosen & (action >= 0.8) & (action < 0.9), rng.integers(MASK + 1, len(tok.tokens), len(ids)), masked)
        hit = bert.mlm_logits(masked).argmax(-1) == ids
        correct += int(hit[chosen].sum())
        count += int(chosen.sum())
        mask_correct += int(hit[to_mask].sum())
        mask_count += int(to_mask.sum())
    return {
        "windows": windows,
        "masked_tokens": count,
        "mlm_accuracy": round(correct / max(count, 1), 4),
        "mask_replaced_tokens": mask_count,
        "mlm_accuracy_on_mask_replaced": round(mask_correct / max(mask_count, 1), 4),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir", nargs="?", default="public/models/builtin")
    ap.add_argument("--heldout", help="held-out text (build/corpus/heldout.txt) for a masked-token accuracy check")
    ap.add_argument("--update-report", action="store_true", help="write the results into pretrain_report.json")
    args = ap.parse_args()

    tok = WordPiece(os.path.join(args.model_dir, "vocab.txt"))
    with open(os.path.join(args.model_dir, "tokenizer.json"), encoding="utf-8") as f:
        json_vocab = json.load(f)["model"]["vocab"]
    assert json_vocab == tok.ids, "tokenizer.json's model.vocab differs from vocab.txt"
    bert = Bert(args.model_dir)
    assert bert.decoder.shape[0] == len(tok.tokens) == bert.config["vocab_size"]

    example = [tok.tokens[i] for i in tok.encode(TOKENIZER_EXAMPLE)]
    print("tokenizer example:", " ".join(example))
    fills = [fill_mask(bert, tok, text) for text in FILL_MASK_PROBES]
    for fill in fills:
        print(f"{fill['text']!r}: " + ", ".join(f"{t['token']} {t['p']:.3f}" for t in fill["top5"]))
    heldout = None
    if args.heldout:
        heldout = heldout_accuracy(bert, tok, args.heldout)
        print("held-out check:", heldout)

    if args.update_report:
        path = os.path.join(args.model_dir, "pretrain_report.json")
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
        report["self_test"]["tokenizer_example"] = example
        report["self_test"]["fill_mask"] = fills
        report["self_test"]["recomputed"] = {
            "fields": ["tokenizer_example", "fill_mask"] + (["numpy_heldout_check"] if heldout else []),
            "by": "python3 scripts/builtin/fill_mask_check.py public/models/builtin"
            + (" --heldout build/corpus/heldout.txt" if heldout else "")
            + " --update-report (numpy forward pass, vocab.txt WordPiece)",
            "why": "the GPU run's self-test reloaded the model with a tokenizer.json whose vocabulary held only the "
            "5 special tokens (transformers 5.x BertTokenizer(vocab_file=...) dropped the rest), so every probe word "
            "was [UNK] and its fill-mask tokens were null; tokenizer.json has since been refilled from vocab.txt",
        }
        if heldout:
            report["self_test"]["numpy_heldout_check"] = heldout
        with open(path, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
        print(f"updated {path}")


if __name__ == "__main__":
    main()
