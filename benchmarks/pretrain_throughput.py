"""Masked-LM training throughput: our trainer vs the Hugging Face Trainer recipes, one run.

Same model (BERT, 4 layers, hidden 256, vocabulary 21,128 rows like bert-base-chinese), same
medical text, same sequence length, batch size and number of optimizer steps, same precision:

  ours        packed 128-token blocks, lexicon whole-word masking, vocabulary projection only at
              masked positions (components.pretrain.trainer.train)
  hf_wwm      Trainer + DataCollatorForLanguageModeling(whole_word_mask=True) on line-by-line
              examples padded to 128 (the transformers 5 whole-word recipe)
  hf_grouped  Trainer + DataCollatorForLanguageModeling on run_mlm-style grouped texts
              (no whole-word masking; run_mlm's default)

Only non-padding input tokens count. Prints tokens/s and ratios (ours / baseline).

    .venv/bin/python benchmarks/pretrain_throughput.py --steps 20 --threads 2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VOCAB_ROWS = 21128


def load_texts(path: Path, n: int) -> list[str]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            t = json.loads(line)["text"].strip()
            if len(t) >= 8:
                out.append(t)
            if len(out) >= n:
                break
    return out


def make_model(tok, precision_seed: int = 0):
    import torch
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(precision_seed)
    cfg = BertConfig(
        vocab_size=VOCAB_ROWS,
        hidden_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=1024,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
    )
    return BertForMaskedLM._from_config(cfg, attn_implementation="sdpa")


def run_ours(tok, texts, lexicon, args) -> dict:
    from components.data.lexicon import read_lexicon
    from components.pretrain.data import WordMatcher, encode_stream, pack
    from components.pretrain.params import TrainParams
    from components.pretrain.trainer import Corpora, train

    matcher = WordMatcher(read_lexicon(lexicon, 0, 2, 16))
    ids, starts = encode_stream(texts, tok, matcher)
    blocks = pack(ids, starts, args.seq_len, tok.cls_token_id, tok.sep_token_id)
    p = TrainParams(
        seq_len=args.seq_len,
        global_batch=args.batch_size,
        micro_batch=args.batch_size,
        max_steps=args.steps,
        precision=args.precision,
        threads=args.threads,
        checkpoint_every=10**9,
        log_every=10**9,
        eval_fraction=0.0,
        whole_word=True,
    )
    model = make_model(tok)
    with tempfile.TemporaryDirectory() as tmp:
        res = train(model, tok, Corpora(blocks), p, Path(tmp) / "ck", resume=False)
    m = res.metrics
    return {"tokens": m["train_tokens"], "seconds": m["train_seconds"]}


def run_hf(tok, texts, args, grouped: bool) -> dict:
    import torch
    from datasets import Dataset
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    n = args.steps * args.batch_size
    if grouped:
        enc = tok(texts, add_special_tokens=True)["input_ids"]
        flat = [t for ids in enc for t in ids]
        L = args.seq_len
        rows = [flat[i : i + L] for i in range(0, len(flat) - L + 1, L)][:n]
        ds = Dataset.from_dict({"input_ids": rows})
        collator = DataCollatorForLanguageModeling(tok, mlm_probability=0.15)
        real_tokens = sum(len(r) for r in rows)
    else:
        enc = tok(
            texts[:n],
            truncation=True,
            max_length=args.seq_len,
            padding="max_length",
            return_offsets_mapping=True,
        )
        ds = Dataset.from_dict(dict(enc))
        collator = DataCollatorForLanguageModeling(tok, mlm_probability=0.15, whole_word_mask=True)
        real_tokens = int(sum(sum(m) for m in enc["attention_mask"]))
    if len(ds) < n:
        raise SystemExit(f"not enough text for {n} examples ({len(ds)})")
    torch.set_num_threads(args.threads)
    model = make_model(tok)
    with tempfile.TemporaryDirectory() as tmp:
        targs = TrainingArguments(
            output_dir=tmp,
            per_device_train_batch_size=args.batch_size,
            max_steps=args.steps,
            learning_rate=5e-4,
            bf16=args.precision == "bf16",
            use_cpu=True,
            report_to=[],
            logging_strategy="no",
            save_strategy="no",
            remove_unused_columns=False,
            dataloader_num_workers=0,
            disable_tqdm=True,
        )
        trainer = Trainer(model=model, args=targs, train_dataset=ds, data_collator=collator)
        t0 = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - t0
    return {"tokens": real_tokens, "seconds": seconds}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "data/ingested/domain.jsonl")
    ap.add_argument("--lexicon", type=Path, default=ROOT / "data/ingested/lexicons/medical.txt")
    ap.add_argument("--tokenizer", default=str(ROOT / "models/base-zh-tiny"))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    ap.add_argument("--only", nargs="*", default=["ours", "hf_wwm", "hf_grouped"])
    args = ap.parse_args()

    from components.modeling.backbone import load_tokenizer

    tok = load_tokenizer(args.tokenizer)
    texts = load_texts(args.corpus, 20000)
    results = {}
    for name in args.only:
        if name == "ours":
            r = run_ours(tok, texts, args.lexicon, args)
        else:
            r = run_hf(tok, texts, args, grouped=name == "hf_grouped")
        r["tokens_per_second"] = r["tokens"] / r["seconds"]
        results[name] = r
        print(f"{name:11s} {r['tokens']:>8d} tokens  {r['seconds']:7.1f} s  "
              f"{r['tokens_per_second']:8.0f} tok/s", flush=True)  # fmt: skip
    if "ours" in results:
        for name in ("hf_wwm", "hf_grouped"):
            if name in results:
                ratio = results["ours"]["tokens_per_second"] / results[name]["tokens_per_second"]
                print(f"ours / {name}: {ratio:.2f}x")
    print(json.dumps({k: round(v["tokens_per_second"], 1) for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
