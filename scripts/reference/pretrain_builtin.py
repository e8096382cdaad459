#!/usr/bin/env python3
"""Pretrains the built-in tiny BERT of AFLoRA Playground (L=2, H=128, A=2, I=512, like
google/bert_uncased_L-2_H-128_A-2) from scratch on the corpus of scripts/builtin/make-corpus.mjs.

    python3 scripts/reference/pretrain_builtin.py build/corpus <outdir> --seconds 240

Needs python3 + torch + transformers + tokenizers + safetensors + numpy, one CUDA GPU (CPU works, slowly),
no network. Writes into <outdir> a Hugging Face folder: config.json, model.safetensors (float32),
vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json, pretrain_report.json.

Objective: masked LM (15 % of tokens; 80 % [MASK], 10 % random, 10 % kept) plus next-sentence prediction,
as in the original BERT. NSP is there so that the pooler and the segment-B token-type embedding are
trained: classification fine-tuning reads the pooler output, and AFLoRA/LoRA keep the pooler frozen.
The checkpoint therefore holds BertForPreTraining weights (bert.* incl. pooler, cls.predictions.*,
cls.seq_relationship.*); BertForMaskedLM and BertForSequenceClassification load it as usual.

Training stops after --seconds of optimisation (time budget); the learning rate warms up and then decays
linearly with elapsed time, so the schedule completes whatever the GPU speed.
"""

import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from tokenizers import BertWordPieceTokenizer
from transformers import BertConfig, BertForMaskedLM, BertForPreTraining, BertForSequenceClassification

try:
    from transformers import BertTokenizerFast
except ImportError:  # transformers >= 5 folds the fast tokenizer into BertTokenizer
    from transformers import BertTokenizer as BertTokenizerFast

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PAD, UNK, CLS, SEP, MASK = range(len(SPECIAL_TOKENS))  # BertWordPieceTokenizer puts them first, in this order
IGNORE = -100

FILL_MASK_PROBES = [
    "the president of the united states [MASK] a speech on monday.",
    "she opened the [MASK] and walked into the room.",
    "click here to [MASK] from our mailing list.",
    "the results of the experiment are shown in [MASK] 2.",
    "he said that he would [MASK] the money back next week.",
]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus_dir", help="folder with train.txt and heldout.txt (scripts/builtin/make-corpus.mjs)")
    p.add_argument("outdir", help="output folder (created)")
    p.add_argument("--seconds", type=float, default=240.0, help="optimisation time budget")
    p.add_argument("--max-steps", type=int, default=0, help="optional step cap (0 = time budget only)")
    p.add_argument("--vocab-size", type=int, default=8000)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup-fraction", type=float, default=0.06)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--log-every", type=int, default=100, help="steps between train-loss log points")
    p.add_argument("--eval-every-seconds", type=float, default=30.0, help="held-out evaluation period")
    p.add_argument("--seed", type=int, default=1234)
    return p.parse_args()


def log(msg):
    print(msg, flush=True)


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def train_vocab(train_path, vocab_size, outdir):
    tok = BertWordPieceTokenizer(lowercase=True, clean_text=True, handle_chinese_chars=True, strip_accents=None)
    tok.train(
        files=[train_path],
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        limit_alphabet=500,
        wordpieces_prefix="##",
        show_progress=False,
    )
    tok.save_model(outdir)  # writes vocab.txt
    return tok


def save_hf_tokenizer(outdir, seq_len):
    """tokenizer.json / tokenizer_config.json / special_tokens_map.json from vocab.txt, lower-casing."""
    vocab_path = os.path.join(outdir, "vocab.txt")
    try:
        hf_tok = BertTokenizerFast(vocab_file=vocab_path, do_lower_case=True, model_max_length=seq_len)
    except Exception as err:  # constructor signature changed across transformers versions
        log(f"BertTokenizerFast(vocab_file=...) failed ({err!r}); wrapping the tokenizers object instead")
        from transformers import PreTrainedTokenizerFast

        wordpiece = BertWordPieceTokenizer.from_file(vocab_path, lowercase=True)  # with a vocab it adds [CLS]/[SEP]
        hf_tok = PreTrainedTokenizerFast(
            tokenizer_object=wordpiece._tokenizer,
            unk_token="[UNK]",
            sep_token="[SEP]",
            pad_token="[PAD]",
            cls_token="[CLS]",
            mask_token="[MASK]",
            model_max_length=seq_len,
        )
    hf_tok.save_pretrained(outdir)
    fill_tokenizer_json_vocab(outdir)
    with open(os.path.join(outdir, "special_tokens_map.json"), "w", encoding="utf-8") as f:  # transformers 5 no longer writes it
        json.dump(dict(zip(["pad_token", "unk_token", "cls_token", "sep_token", "mask_token"], SPECIAL_TOKENS)), f, indent=2)
        f.write("\n")
    # Some transformers versions leave these out of tokenizer_config.json; the browser tokenizer reads them.
    cfg_path = os.path.join(outdir, "tokenizer_config.json")
    with open(cfg_path, encoding="utf-8") as f:
        cfg = json.load(f)
    cfg.update({"do_lower_case": True, "model_max_length": seq_len, "tokenizer_class": "BertTokenizer"})
    for key, token in zip(["pad_token", "unk_token", "cls_token", "sep_token", "mask_token"], SPECIAL_TOKENS):
        cfg.setdefault(key, token)
    with open(cfg_path, "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")


def fill_tokenizer_json_vocab(outdir):
    """Makes tokenizer.json's model.vocab exactly vocab.txt (id = line number).

    transformers 5.x's BertTokenizer(vocab_file=...) saves a tokenizer.json whose WordPiece vocab holds only the
    5 special tokens, so everything else encodes as [UNK]; the browser app reads tokenizer.json first."""
    with open(os.path.join(outdir, "vocab.txt"), encoding="utf-8") as f:
        tokens = [line.rstrip("\n") for line in f]
    vocab = {token: i for i, token in enumerate(tokens)}
    assert len(vocab) == len(tokens), "vocab.txt has duplicate tokens"
    path = os.path.join(outdir, "tokenizer.json")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    assert data["model"]["type"] == "WordPiece", data["model"]["type"]
    data["model"]["vocab"] = vocab
    for added in data.get("added_tokens", []):
        assert vocab.get(added["content"]) == added["id"], f"added token {added} disagrees with vocab.txt"
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")


def check_tokenizer_json(outdir, trained_tok):
    """Reads tokenizer.json back with `tokenizers` and checks it encodes like the tokenizer used in training."""
    from tokenizers import Tokenizer

    reloaded = Tokenizer.from_file(os.path.join(outdir, "tokenizer.json"))
    assert reloaded.get_vocab_size() == trained_tok.get_vocab_size(), "tokenizer.json vocab size"
    for text in ["The Jury said it did find irregularities.", *FILL_MASK_PROBES]:
        text = text.replace("[MASK]", "something")
        want = trained_tok.encode(text, add_special_tokens=False).ids
        got = reloaded.encode(text, add_special_tokens=False).ids
        assert got == want, f"tokenizer.json encodes {text!r} as {got}, training used {want}"
        assert UNK not in got, f"{text!r} has [UNK] pieces"
        with_special = reloaded.encode(text).ids
        assert with_special == [CLS, *want, SEP], f"tokenizer.json does not add [CLS]/[SEP]: {with_special}"


def token_stream(tok, lines):
    """All lines' word pieces, concatenated in file order (documents are consecutive lines): int64 [N]."""
    encodings = tok.encode_batch(lines, add_special_tokens=False)
    return np.fromiter((i for e in encodings for i in e.ids), dtype=np.int64)


def make_batch(stream, batch_size, seq_len, gen, device):
    """Samples a batch of BERT pretraining sequences from a token stream, vectorised on `device`.

    70 % of sequences are seq_len long, 30 % have a random length in [16, seq_len] (padded), so short
    inputs are seen too. 80 % are pairs `[CLS] A [SEP] B [SEP]` for NSP (B follows A in the stream, or,
    half of the time, is a random slice: label 1), 20 % single segments `[CLS] X [SEP]` (NSP label ignored).
    Returns input_ids, token_type_ids, attention_mask [B, L] and nsp_labels [B].
    """
    B, L, N = batch_size, seq_len, stream.numel()

    def rand(*shape):
        return torch.rand(*shape, generator=gen, device=device)

    def randint(low, high, shape):  # high exclusive; low/high may be tensors
        return (low + (rand(*shape) * (high - low)).floor()).long()

    total = torch.where(rand(B) < 0.7, torch.full((B,), L, device=device), randint(16, L + 1, (B,)))  # [B]
    single = rand(B) < 0.2
    n_content = torch.where(single, total - 2, total - 3)  # word pieces in the sequence
    split = randint(torch.ones_like(total), n_content, (B,))  # len(A) in [1, n_content - 1]
    start = randint(0, N - L - 1, (B,))
    is_next = rand(B) < 0.5
    b_start = torch.where(is_next, start + split, randint(0, N - L - 1, (B,)))

    j = torch.arange(L, device=device)[None, :]  # [1, L]
    total_, split_, single_ = total[:, None], split[:, None], single[:, None]
    last = total_ - 1  # position of the final [SEP]
    # Single segment: positions 1..last-1 read stream[start + j - 1].
    # Pair: 1..split read A = stream[start + j - 1]; split+1 is [SEP]; split+2..last-1 read B.
    in_a = (j >= 1) & (j < last) & (single_ | (j <= split_))
    in_b = (~single_) & (j >= split_ + 2) & (j < last)
    mid_sep = (~single_) & (j == split_ + 1)
    a_idx = (start[:, None] + j - 1).clamp(0, N - 1)
    b_idx = (b_start[:, None] + j - split_ - 2).clamp(0, N - 1)
    ids = torch.full((B, L), PAD, dtype=torch.long, device=device)
    ids = torch.where(in_a, stream[a_idx], ids)
    ids = torch.where(in_b, stream[b_idx], ids)
    ids = torch.where(mid_sep | (j == last), torch.full_like(ids, SEP), ids)
    ids[:, 0] = CLS
    attention = (j <= last).long()
    token_types = ((~single_) & (j >= split_ + 2) & (j <= last)).long()  # B and its [SEP] are segment 1
    nsp = torch.where(single, torch.full_like(total, IGNORE), (~is_next).long())  # 0 = IsNext, 1 = random
    return ids, token_types, attention, nsp


def mask_tokens(ids, vocab_size, gen, rate=0.15):
    """BERT masking: choose `rate` of the real tokens; 80 % -> [MASK], 10 % -> random piece, 10 % kept.
    Returns (masked ids [B, L], labels [B, L] with IGNORE where not chosen)."""
    device = ids.device
    maskable = ids > MASK  # real word pieces only: never PAD/UNK/CLS/SEP/MASK
    chosen = (torch.rand(ids.shape, generator=gen, device=device) < rate) & maskable
    labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE))
    action = torch.rand(ids.shape, generator=gen, device=device)
    random_ids = (len(SPECIAL_TOKENS) + torch.rand(ids.shape, generator=gen, device=device) * (vocab_size - len(SPECIAL_TOKENS))).long()
    masked = torch.where(chosen & (action < 0.8), torch.full_like(ids, MASK), ids)
    masked = torch.where(chosen & (action >= 0.8) & (action < 0.9), random_ids, masked)
    return masked, labels


def forward_losses(model, ids, types, attention, labels, nsp_labels):
    """MLM loss (only on chosen positions: cheaper than full-vocab logits everywhere) + NSP loss."""
    out = model.bert(input_ids=ids, token_type_ids=types, attention_mask=attention, return_dict=True)
    chosen = labels != IGNORE
    mlm_logits = model.cls.predictions(out.last_hidden_state[chosen]).float()  # [M, V]
    mlm_targets = labels[chosen]
    mlm_loss = F.cross_entropy(mlm_logits, mlm_targets)
    nsp_logits = model.cls.seq_relationship(out.pooler_output).float()  # [B, 2]
    nsp_loss = F.cross_entropy(nsp_logits, nsp_labels, ignore_index=IGNORE)
    return mlm_loss, nsp_loss, mlm_logits, mlm_targets, nsp_logits


@torch.no_grad()
def evaluate(model, heldout, args, vocab_size, device, autocast):
    """Held-out MLM loss / masked-token accuracy on disjoint single-segment windows covering heldout.txt
    (fixed masking seed), and NSP accuracy on 8 seeded pair batches."""
    model.eval()
    gen = torch.Generator(device=device)
    gen.manual_seed(args.seed + 7)
    L = args.seq_len
    body = L - 2
    n_windows = heldout.numel() // body
    windows = heldout[: n_windows * body].view(n_windows, body)
    loss_sum, correct, count = 0.0, 0, 0
    for s in range(0, n_windows, args.batch_size):
        chunk = windows[s : s + args.batch_size]
        b = chunk.shape[0]
        ids = torch.cat(
            [torch.full((b, 1), CLS, device=device), chunk, torch.full((b, 1), SEP, device=device)], dim=1
        )
        masked, labels = mask_tokens(ids, vocab_size, gen)
        with autocast():
            out = model.bert(
                input_ids=masked, token_type_ids=torch.zeros_like(ids), attention_mask=torch.ones_like(ids), return_dict=True
            )
            chosen = labels != IGNORE
            logits = model.cls.predictions(out.last_hidden_state[chosen]).float()
        targets = labels[chosen]
        loss_sum += F.cross_entropy(logits, targets, reduction="sum").item()
        correct += (logits.argmax(-1) == targets).sum().item()
        count += targets.numel()
    nsp_correct, nsp_count = 0, 0
    for _ in range(8):
        ids, types, attention, nsp = make_batch(heldout, args.batch_size, L, gen, device)
        with autocast():
            pooled = model.bert(input_ids=ids, token_type_ids=types, attention_mask=attention, return_dict=True).pooler_output
            nsp_logits = model.cls.seq_relationship(pooled).float()
        keep = nsp != IGNORE
        nsp_correct += (nsp_logits.argmax(-1)[keep] == nsp[keep]).sum().item()
        nsp_count += keep.sum().item()
    model.train()
    mlm_loss = loss_sum / max(count, 1)
    return {
        "mlm_loss": round(mlm_loss, 4),
        "mlm_perplexity": round(math.exp(min(mlm_loss, 50.0)), 2),
        "mlm_accuracy": round(correct / max(count, 1), 4),
        "masked_tokens": count,
        "nsp_accuracy": round(nsp_correct / max(nsp_count, 1), 4),
        "nsp_pairs": nsp_count,
    }


def save_checkpoint(model, config, outdir):
    """config.json + model.safetensors (float32). Tied copies (MLM decoder = word embeddings) are stored once,
    under the name of the first holder, as transformers does; non-persistent buffers are not in state_dict."""
    state = model.state_dict()
    seen, tensors = set(), {}
    for name, tensor in state.items():
        if tensor.data_ptr() in seen:
            continue
        seen.add(tensor.data_ptr())
        tensors[name] = tensor.detach().to(torch.float32).contiguous().cpu() if tensor.is_floating_point() else tensor.detach().contiguous().cpu()
    # Index buffers that old transformers versions persisted; derivable, and not weights.
    tensors.pop("bert.embeddings.position_ids", None)
    tensors.pop("bert.embeddings.token_type_ids", None)
    save_file(tensors, os.path.join(outdir, "model.safetensors"), metadata={"format": "pt"})
    config.architectures = ["BertForPreTraining"]
    config.save_pretrained(outdir)
    return {name: list(t.shape) for name, t in tensors.items()}


def self_test(outdir, seq_len, trained_tok):
    """Reload as the app's users will (sequence classification) and as a masked LM; fill a few masks."""
    report = {}
    tok = BertTokenizerFast.from_pretrained(outdir)
    assert tok("Hello WORLD")["input_ids"] == tok("hello world")["input_ids"], "tokenizer does not lower-case"
    example = "The Jury said it did find irregularities."
    example_ids = tok(example)["input_ids"]
    assert example_ids == [CLS, *trained_tok.encode(example, add_special_tokens=False).ids, SEP], (
        f"reloaded tokenizer encodes {example!r} as {example_ids}, unlike training"
    )
    report["tokenizer_example"] = tok.convert_ids_to_tokens(example_ids)
    seqcls, info = BertForSequenceClassification.from_pretrained(outdir, num_labels=2, output_loading_info=True)
    missing = sorted(info["missing_keys"])
    report["seqcls_missing_keys"] = missing
    report["seqcls_unexpected_keys"] = sorted(info["unexpected_keys"])
    assert all(k.startswith("classifier.") for k in missing), f"BertForSequenceClassification misses {missing}"
    seqcls.eval()
    with torch.no_grad():
        enc = tok(["free money, click now", "see you at the meeting"], padding=True, return_tensors="pt")
        report["seqcls_logits_shape"] = list(seqcls(**enc).logits.shape)
    mlm = BertForMaskedLM.from_pretrained(outdir).eval()
    fills = []
    with torch.no_grad():
        for text in FILL_MASK_PROBES:
            enc = tok(text, return_tensors="pt", truncation=True, max_length=seq_len)
            logits = mlm(**enc).logits[0]  # [L, V]
            assert UNK not in enc["input_ids"][0].tolist(), f"{text!r} tokenised with [UNK]"
            pos = (enc["input_ids"][0] == tok.mask_token_id).nonzero()[0, 0]
            probs = logits[pos].softmax(-1)
            top = probs.topk(5)
            fills.append(
                {
                    "text": text,
                    "top5": [
                        {"token": tok.convert_ids_to_tokens(int(i)), "p": round(float(p), 4)}
                        for p, i in zip(top.values, top.indices)
                    ],
                }
            )
    report["fill_mask"] = fills
    return report


def main():
    args = parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True

    def autocast():
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16)

    t0 = time.time()
    train_path = os.path.join(args.corpus_dir, "train.txt")
    heldout_path = os.path.join(args.corpus_dir, "heldout.txt")
    tok = train_vocab(train_path, args.vocab_size, args.outdir)
    save_hf_tokenizer(args.outdir, args.seq_len)
    check_tokenizer_json(args.outdir, tok)
    vocab_size = tok.get_vocab_size()
    assert [tok.token_to_id(t) for t in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS))), "special token ids"
    train_lines, heldout_lines = read_lines(train_path), read_lines(heldout_path)
    train_ids = torch.from_numpy(token_stream(tok, train_lines)).to(device)
    heldout_ids = torch.from_numpy(token_stream(tok, heldout_lines)).to(device)
    unk_rate = float((train_ids == UNK).float().mean())
    log(
        f"vocab {vocab_size}; train {len(train_lines)} lines {train_ids.numel()} tokens; "
        f"heldout {len(heldout_lines)} lines {heldout_ids.numel()} tokens; [UNK] rate {unk_rate:.5f}; "
        f"prep {time.time() - t0:.1f}s; device {device} bf16 {use_bf16}"
    )

    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=512,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=args.seq_len,
        type_vocab_size=2,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        pad_token_id=PAD,
    )
    model = BertForPreTraining(config).to(device)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embeddings" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embeddings" not in n)]
    groups = [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    try:
        opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.98), eps=1e-6, fused=device.type == "cuda")
    except (TypeError, RuntimeError):
        opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.98), eps=1e-6)

    gen = torch.Generator(device=device)
    gen.manual_seed(args.seed)
    train_curve, heldout_curve = [], []
    window_mlm, window_nsp, window_acc = [], [], []
    step, start = 0, time.time()
    next_eval = args.eval_every_seconds
    heldout_curve.append({"step": 0, "seconds": 0.0, **evaluate(model, heldout_ids, args, vocab_size, device, autocast)})
    log(f"step 0 heldout {heldout_curve[-1]}")
    start = time.time()  # the budget counts optimisation, not the first evaluation
    while True:
        elapsed = time.time() - start
        if elapsed >= args.seconds or (args.max_steps and step >= args.max_steps):
            break
        progress = elapsed / args.seconds
        lr_scale = min(progress / args.warmup_fraction, 1.0) * max(0.0, (1.0 - progress) / (1.0 - args.warmup_fraction))
        lr_scale = min(lr_scale, 1.0)
        for g in opt.param_groups:
            g["lr"] = args.lr * lr_scale
        ids, types, attention, nsp = make_batch(train_ids, args.batch_size, args.seq_len, gen, device)
        masked, labels = mask_tokens(ids, vocab_size, gen)
        with autocast():
            mlm_loss, nsp_loss, mlm_logits, mlm_targets, _ = forward_losses(model, masked, types, attention, labels, nsp)
            loss = mlm_loss + nsp_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        window_mlm.append(mlm_loss.detach())
        window_nsp.append(nsp_loss.detach())
        window_acc.append((mlm_logits.detach().argmax(-1) == mlm_targets).float().mean())
        if step % args.log_every == 0:
            point = {
                "step": step,
                "seconds": round(time.time() - start, 1),
                "lr": round(args.lr * lr_scale, 7),
                "mlm_loss": round(float(torch.stack(window_mlm).mean()), 4),
                "nsp_loss": round(float(torch.stack(window_nsp).mean()), 4),
                "mlm_accuracy": round(float(torch.stack(window_acc).mean()), 4),
            }
            window_mlm, window_nsp, window_acc = [], [], []
            train_curve.append(point)
            log(f"train {point}")
        if time.time() - start >= next_eval:
            next_eval += args.eval_every_seconds
            heldout_curve.append(
                {"step": step, "seconds": round(time.time() - start, 1), **evaluate(model, heldout_ids, args, vocab_size, device, autocast)}
            )
            log(f"heldout {heldout_curve[-1]}")
    train_seconds = time.time() - start
    final = evaluate(model, heldout_ids, args, vocab_size, device, autocast)
    heldout_curve.append({"step": step, "seconds": round(train_seconds, 1), **final})
    log(f"final heldout {final} after {step} steps, {train_seconds:.0f}s")

    model = model.cpu().float()
    shapes = save_checkpoint(model, config, args.outdir)
    try:
        checks = self_test(args.outdir, args.seq_len, tok)
        for fill in checks["fill_mask"]:
            log(f"fill-mask {fill['text']!r}: " + ", ".join(f"{t['token']} {t['p']:.3f}" for t in fill["top5"]))
    except Exception as err:  # still write the report: the weights are saved and the numbers are useful
        checks = {"error": repr(err)}
        log(f"SELF-TEST FAILED: {err!r}")

    corpus_sources = None
    sources_path = os.path.join(args.corpus_dir, "sources.json")
    if os.path.exists(sources_path):
        with open(sources_path, encoding="utf-8") as f:
            corpus_sources = json.load(f)
    import tokenizers
    import transformers

    report = {
        "seed": args.seed,
        "args": vars(args),
        "objective": "MLM 15% (80/10/10) + NSP (50% random B); 20% single-segment, 30% random-length sequences",
        "steps": step,
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.time() - t0, 1),
        "tokens_seen": step * args.batch_size * args.seq_len,
        "parameters": n_params,
        "vocab_size": vocab_size,
        "unk_rate_train": round(unk_rate, 6),
        "corpus": {
            "train_lines": len(train_lines),
            "train_tokens": int(train_ids.numel()),
            "heldout_lines": len(heldout_lines),
            "heldout_tokens": int(heldout_ids.numel()),
            "epochs_equivalent": round(step * args.batch_size * args.seq_len / max(int(train_ids.numel()), 1), 2),
            "sources": corpus_sources,
        },
        "heldout": final,
        "train_curve": train_curve,
        "heldout_curve": heldout_curve,
        "tensors": shapes,
        "model_safetensors_bytes": os.path.getsize(os.path.join(args.outdir, "model.safetensors")),
        "self_test": checks,
        "environment": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
            "bf16_autocast": use_bf16,
        },
    }
    with open(os.path.join(args.outdir, "pretrain_report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    log(f"wrote {sorted(os.listdir(args.outdir))}")
    if "error" in checks:
        sys.exit(1)


if __name__ == "__main__":
    main()
