"""``dapt pretrain``: continued masked-LM pretraining (general, DAPT or TAPT).

    dapt pretrain --corpus FILE... --model PATH_OR_CONFIG --out DIR [--stage NAME] [--lexicon
        FILE] [--general-corpus FILE] [--eval-corpus FILE] [--max-steps N] ... (--help: all)

``--model``: a checkpoint folder or hub id; a folder with only config.json + tokenizer files
initialises a new model from that config. ``DIR`` (replaced atomically at the end) receives the
save_pretrained model + tokenizer, metrics.json, loss.tsv, loss_curve.png and a model card.
Checkpoints go to ``DIR.checkpoints`` (``--checkpoint-dir``); a rerun resumes from the newest.
With ``pretrain.distributed`` above one process and no launcher around it, the command re-launches
itself through torchrun with the same options (torchrun by hand works too; its count wins).
"""

from __future__ import annotations

import argparse

from components.data.gate import add_validated_switch


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", action="append", required=True, help="training text (repeatable)")
    p.add_argument("--model", required=True, help="checkpoint folder, config folder or hub id")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--stage", default="dapt", help="stage name: MLflow run, model card, metrics")
    p.add_argument(
        "--recipe",
        choices=["general", "dapt", "tapt", "adapter_dapt", "control"],
        help="params pretrain.<recipe> (default: the stage name); control = DAPT's recipe, or "
        "TAPT's in a project without a domain corpus (compute-matched either way)",
    )
    p.add_argument("--shape", help="data/ingested/shape.json: what this project has")
    p.add_argument("--needs", action="append", choices=["corpus", "task", "candidate"], default=[],
                   help="skip (writing a SKIPPED.json output) when the project has no domain "
                   "corpus / task, or (candidate) when --stage is not in evaluate.candidates")  # fmt: skip
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--max-steps", type=int)
    p.add_argument("--seq-len", type=int)
    p.add_argument("--global-batch", type=int, help="blocks per optimizer step (all processes)")
    p.add_argument("--micro-batch", type=int, help="blocks per forward/backward pass")
    p.add_argument("--lexicon", action="append", default=[], help="whole-word lexicon (repeatable)")
    p.add_argument("--general-corpus", action="append", default=[], help="replay + forgetting eval")
    p.add_argument("--eval-corpus", action="append", default=[], help="held-out domain text")
    p.add_argument("--checkpoint-dir", help="default: OUT.checkpoints")
    p.add_argument("--no-resume", action="store_true", help="ignore existing checkpoints")
    p.add_argument("--metrics", help="also write metrics.json here (DVC metrics)")
    p.add_argument("--plot", help="also write the loss curve TSV here (DVC plot)")
    add_validated_switch(p)
    p.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")


def to_argv(args: argparse.Namespace) -> list[str]:
    """The command-line options that give ``args`` again (for the torchrun re-launch)."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out: list[str] = []
    for action in parser._actions:
        value = getattr(args, action.dest, None)
        if not action.option_strings or value is None or value == action.default:
            continue
        flag = action.option_strings[-1]
        if isinstance(action, argparse._StoreTrueAction):
            out.append(flag)
        elif isinstance(action, argparse._AppendAction):
            for v in value:
                out += [flag, str(v)]
        else:
            out += [flag, str(value)]
    return out


def run(args: argparse.Namespace) -> int:
    from components.pretrain.stage import run as run_stage

    return run_stage(args, to_argv(args))
