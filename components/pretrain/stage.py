"""The pretraining stage behind ``dapt pretrain`` (components/pretrain/cli.py parses): skip or
relaunch under torchrun, build the corpora, fingerprint them for resume, train, write the outputs
atomically, log the MLflow run."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from components.config import active_profile, load_section, read_params_file
from components.data.outputs import resume_folder
from components.pretrain.params import PretrainParams, TrainParams


def _docs(paths: list[str], max_docs: int):
    from components.data import read_documents
    from components.data.skip import is_empty

    for path in paths:
        if is_empty(path):  # e.g. no document was mined: nothing to read, not an error
            continue
        for n, doc in enumerate(read_documents(path), 1):
            yield doc.text
            if max_docs and n >= max_docs:
                break


def build_corpora(args, p: TrainParams, tokenizer):
    from components.data.lexicon import read_lexicon
    from components.pretrain.data import WordMatcher, encode_stream, held_out, pack
    from components.pretrain.trainer import Corpora

    words = [w for path in args.lexicon for w in read_lexicon(path, 0, 2, 16)]
    matcher = WordMatcher(words, p.jieba_fallback) if p.whole_word else None
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id

    def blocks(texts):
        ids, starts = encode_stream(texts, tokenizer, matcher)
        return pack(ids, starts, p.seq_len, cls_id, sep_id)

    def split(paths, explicit_eval):
        texts = list(_docs(paths, p.max_docs))
        if explicit_eval:
            return blocks(texts), blocks(_docs(explicit_eval, 0))
        frac = p.eval_fraction
        return (
            blocks(t for t in texts if not held_out(t, frac)),
            blocks(t for t in texts if held_out(t, frac)) if frac else None,
        )

    train, ev = split(args.corpus, args.eval_corpus)
    replay = general_eval = None
    if args.general_corpus:
        replay, general_eval = split(args.general_corpus, [])
    if len(train) == 0:
        from components.errors import InputError

        raise InputError(
            args.corpus[0], f"the corpus gives no full {p.seq_len}-token block", "add text"
        )
    return Corpora(train, ev, replay if p.replay_fraction else None, general_eval)


_TOKENIZER_FILES = ("tokenizer", "vocab", "special_tokens", "added_tokens", "merges")


def folder_digest(path: str, *, tokenizer: bool | None = None) -> str:
    """Content of a model folder, or the id when it is not a folder: a replaced base model must
    not resume from checkpoints trained on the old one. ``tokenizer``: True hashes only the
    tokenizer's files, False everything else (weights, config), None the whole folder."""
    from components.data.text import file_digest

    folder = Path(path)
    if not folder.is_dir():
        return path
    files = sorted(f for f in folder.rglob("*") if f.is_file())
    if tokenizer is not None:
        files = [f for f in files if f.name.startswith(_TOKENIZER_FILES) == tokenizer]
    return hashlib.sha256(
        "".join(f"{f.relative_to(folder)}:{file_digest(str(f))};" for f in files).encode()
    ).hexdigest()


def _blocks_digest(corpora) -> str:
    """The packed blocks themselves (token ids and word starts of every split): whatever
    produced them (files, lexicons, tokenizer, packing code), different blocks = a new run."""
    h = hashlib.sha256()
    for name in ("train", "eval", "replay", "general_eval"):
        blocks = getattr(corpora, name)
        h.update(name.encode())
        if blocks is not None:
            h.update(str(blocks.ids.shape).encode())
            h.update(blocks.ids.tobytes())
            h.update(blocks.starts.tobytes())
    return h.hexdigest()


def fingerprint_parts(args, p: TrainParams, corpora) -> dict[str, str]:
    """What a checkpoint must have been trained on to be resumed: content hashes of the base
    model, its tokenizer, the data blocks and the params. The world size and settings that do
    not change the numbers are left out (a resumption may change them: trainer.py)."""
    operational = {"threads", "log_every", "checkpoint_every", "keep_checkpoints", "compile"}
    params = {k: v for k, v in dataclasses.asdict(p).items() if k not in operational}
    return {
        "params": hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest(),
        "base model": folder_digest(args.model, tokenizer=False),
        "tokenizer": folder_digest(args.model, tokenizer=True),
        "data blocks": _blocks_digest(corpora),
    }


def fingerprint(parts: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def check_positions(args, p: TrainParams, model) -> None:
    """A block longer than the model's position table would fail deep inside the forward pass."""
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit is None or p.seq_len <= limit:
        return
    from components.config import source_key
    from components.errors import ConfigError, UsageError

    if args.seq_len is not None:
        raise UsageError(f"--seq-len {p.seq_len}: the model {args.model} has {limit} positions")
    key = source_key("pretrain", f"{recipe(args)}.seq_len", args.params)
    raise ConfigError(
        f"{key}: {p.seq_len} is above the {limit} positions of the model {args.model}; "
        f"set it to {limit} or less"
    )


def write_outputs(out: Path, model, tokenizer, result, args, p: TrainParams) -> None:
    from components.data.outputs import OutputSet
    from components.data.writers import write_json
    from components.pretrain.report import model_card, write_curve

    with OutputSet() as outs:  # model folder, metrics and loss curve change together
        tmp = outs.dir(out)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        src = Path(args.model) / "added_words.tsv"
        if src.exists():
            (tmp / "added_words.tsv").write_bytes(src.read_bytes())
        write_json(tmp / "metrics.json", result.metrics)
        write_curve(tmp, result.history)
        (tmp / "README.md").write_text(model_card(args, p, model, result), encoding="utf-8")
        if args.metrics:
            write_json(outs.file(args.metrics), result.metrics)
        if args.plot:
            outs.file(args.plot).write_bytes((tmp / "loss.tsv").read_bytes())


def skip_reason(args) -> str | None:
    """Why this stage has nothing to do in this project's shape (None: it has work)."""
    from components.data.skip import skipped_reason

    shape = json.loads(Path(args.shape).read_text(encoding="utf-8")) if args.shape else {}
    if "corpus" in args.needs and not shape.get("corpus", True):
        return "no domain corpus in this project (domain.corpus is empty)"
    if "task" in args.needs and not shape.get("task", True):
        return "no labeled task in this project (domain.task is null)"
    if "candidate" in args.needs and args.stage not in candidates(args.params):
        return f"{args.stage} is not in evaluate.candidates (add it there to train it)"
    upstream = skipped_reason(args.model) if Path(args.model).is_dir() else None
    if upstream:
        return f"its starting model {args.model} was skipped: {upstream}"
    return None


def candidates(params_file: str) -> list[str]:
    """evaluate.candidates of the active profile, read as plain data (evaluation is a layer
    above this one)."""
    from components.config import resolve_section

    data = read_params_file(params_file)
    return list(resolve_section(data, "evaluate", active_profile(data)).get("candidates", []))


def write_skipped(args, reason: str) -> int:
    from components.data.outputs import OutputSet
    from components.data.skip import mark_skipped
    from components.data.writers import write_json

    with OutputSet() as outs:
        mark_skipped(outs.dir(args.out), args.stage, reason)
        if args.metrics:
            write_json(outs.file(args.metrics), {"skipped": True, "reason": reason})
        if args.plot:
            header = "step\tloss\tlr\ttokens_per_second\n"
            outs.file(args.plot).write_text(header, encoding="utf-8")
    print(f"[pretrain] {args.stage}: skipped, {reason}")
    return 0


def recipe(args) -> str:
    name = args.recipe or args.stage
    if name == "control":  # compute-matched to the adaptation that runs in this project
        shape = json.loads(Path(args.shape).read_text(encoding="utf-8")) if args.shape else {}
        return "dapt" if shape.get("corpus", True) else "tapt"
    if name not in ("general", "dapt", "tapt", "adapter_dapt"):
        from components.errors import UsageError

        raise UsageError(
            f"--recipe: give general, dapt, tapt, adapter_dapt or control (stage {name!r})"
        )
    return name


def relaunch(
    args: argparse.Namespace, argv: list[str], params: PretrainParams, p: TrainParams
) -> int:
    """Run this command again under torchrun with ``pretrain.distributed``'s process count."""
    from components.errors import ConfigError
    from components.pretrain.distributed import batch_plan, launch_command

    dist = params.distributed
    key = f"pretrain.{recipe(args)}"
    batch_plan(p.global_batch, p.micro_batch, dist.world_size, key)  # fail before N processes
    import torch

    if torch.cuda.is_available() and dist.nproc_per_node > torch.cuda.device_count():
        raise ConfigError(
            f"pretrain.distributed.nproc_per_node: {dist.nproc_per_node} processes but this node "
            f"has {torch.cuda.device_count()} GPU(s); one process per GPU"
        )
    cmd = launch_command(
        dist.nproc_per_node, dist.nnodes, "components.cli", ["pretrain", *argv], key
    )
    print(f"[pretrain] launching {dist.world_size} processes: {' '.join(cmd)}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    # exec, not a child: the scheduler's signals (timeouts, retries) reach torchrun directly.
    os.execv(cmd[0], cmd)
    return 1  # not reached


def run(args: argparse.Namespace, argv: list[str]) -> int:
    """The stage: ``argv`` gives ``args`` again (the torchrun re-launch runs it as is)."""
    from components.pretrain.distributed import under_launcher

    reason = skip_reason(args)
    if reason:
        return write_skipped(args, reason)
    params: PretrainParams = load_section("pretrain", args.params)
    profile = active_profile(read_params_file(args.params))
    p: TrainParams = getattr(params, recipe(args))
    overrides = {
        "max_steps": args.max_steps,
        "seq_len": args.seq_len,
        "global_batch": args.global_batch,
        "micro_batch": args.micro_batch,
    }
    p = dataclasses.replace(p, **{k: v for k, v in overrides.items() if v is not None})
    if params.distributed.world_size > 1 and not under_launcher():
        return relaunch(args, argv, params, p)
    from components.data import require_decontaminated
    from components.modeling.backbone import load_masked_lm
    from components.pretrain.trainer import train
    from components.stagerun import check_inputs

    check_inputs(
        args, [*args.corpus, *args.general_corpus, *args.eval_corpus], require_decontaminated
    )
    if p.threads:
        import torch

        torch.set_num_threads(p.threads)
    rank = int(os.environ.get("RANK", "0"))
    import torch

    torch.manual_seed(p.seed)  # "initialise from config" must give the same weights every time
    model, tok = load_masked_lm(args.model)
    check_positions(args, p, model)
    start = time.perf_counter()
    corpora = build_corpora(args, p, tok)
    if rank == 0:
        print(
            f"[pretrain] {args.stage}: {len(corpora.train)} train blocks of {p.seq_len} tokens "
            f"({time.perf_counter() - start:.1f}s to encode), replay "
            f"{len(corpora.replay) if corpora.replay else 0}, eval "
            f"{len(corpora.eval) if corpora.eval else 0}",
            file=sys.stderr,
        )
    out = Path(args.out)
    ckpt = Path(args.checkpoint_dir) if args.checkpoint_dir else resume_folder(out)
    fault = os.environ.get("DAPT_PRETRAIN_FAULT_AFTER_STEP")
    parts = fingerprint_parts(args, p, corpora)
    kwargs = {
        "fingerprint": fingerprint(parts),
        "fingerprint_parts": parts,
        "resume": not args.no_resume,
        "fault_after": int(fault) if fault else None,
        "config_key": f"pretrain.{args.stage}",
    }
    track = not args.no_mlflow and rank == 0
    if track:
        import mlflow

        from components.tracking import stage_run

        inputs = [*args.corpus, *args.general_corpus, *args.eval_corpus, *args.lexicon]
        with stage_run(args.stage, p, inputs=inputs, profile=profile):
            result = train(model, tok, corpora, p, ckpt, log_fn=mlflow.log_metrics, **kwargs)
            mlflow.set_tag("world_size", str(result.metrics["world_size"]))
            write_outputs(out, model, tok, result, args, p)
            mlflow.log_metrics(
                {k: v for k, v in result.metrics.items() if isinstance(v, int | float)}
            )
            for name in ("metrics.json", "loss.tsv", "loss_curve.png", "README.md"):
                mlflow.log_artifact(str(out / name))
    else:
        result = train(model, tok, corpora, p, ckpt, **kwargs)
        if rank == 0:
            write_outputs(out, model, tok, result, args, p)
    if rank == 0:
        from components.pretrain import checkpoint

        checkpoint.clear(ckpt)  # the output is complete; a rerun is a new run
        shown = {
            k: v
            for k, v in result.metrics.items()
            if "perplexity" in k or "tokens_per" in k or k in ("mfu", "world_size")
        }
        print(f"[pretrain] {args.stage} -> {out}: {json.dumps(shown)}")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return 0
