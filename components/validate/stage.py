"""The validation stage behind ``dapt validate`` (components/validate/cli.py parses): fill the
inputs from an ingest layout, run the suites in a staging folder, keep the last good validation
on failure, write the manifest downstream stages check, log the MLflow run."""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
from pathlib import Path

from components.config import load_section, read_params_file, with_derived
from components.data.gate import manifest_key
from components.data.outputs import OutputSet, recover
from components.data.shards import digest
from components.data.writers import write_json
from components.domain import domain_lang
from components.errors import UsageError, failed
from components.execution import load_execution
from components.stagerun import stage_tracking
from components.validate.core import ReadOptions, scan_here, validate_files
from components.validate.params import ValidateParams
from components.validate.report import summary_dict, write_reports


def _check_usage(args: argparse.Namespace) -> dict[str, str] | None:
    if args.task_dev and not args.task_train:
        raise UsageError("--task-dev needs --task-train and --task-test")
    if bool(args.task_train) != bool(args.task_test):
        raise UsageError("--task-train and --task-test go together")
    if not args.corpus and not args.task_train:
        raise UsageError(
            "nothing to validate: pass --corpus FILE and/or --task-train FILE --task-test FILE"
        )
    for path in [*args.corpus, args.task_train, args.task_dev, args.task_test]:
        if path and not os.path.exists(path):
            raise UsageError(f"{path}: file does not exist")
    if not args.task_train:
        return None
    task = {"train": args.task_train, "test": args.task_test}
    if args.task_dev:
        task["dev"] = args.task_dev
    return task


def origins(args: argparse.Namespace, domain) -> dict[str, str]:
    """Ingested file -> the raw inputs (params keys and paths) it was made from: where to fix
    what validation finds."""
    if domain is None or not args.ingested:
        return {}
    root = Path(args.ingested)

    def srcs(key: str, specs) -> str:
        return ", ".join(f"{key}[{i}]: {s.path}" for i, s in enumerate(specs))

    out = {
        str(root / "general.jsonl"): srcs("domain.general", domain.general),
        str(root / "domain.jsonl"): srcs("domain.corpus", domain.corpus),
    }
    if domain.task is not None:
        for split in ("train", "dev", "test"):
            spec = getattr(domain.task, split)
            raw = spec.path if spec is not None else f"{domain.task.train.path} (held out)"
            out[str(root / f"task/{split}.jsonl")] = f"domain.task.{split}: {raw}"
        if domain.task.label_set:
            out[str(root / "task/labels.txt")] = f"domain.task.label_set: {domain.task.label_set}"
    return out


def _domain(args: argparse.Namespace):
    if not Path(args.params).exists() or "domain" not in read_params_file(args.params):
        return None
    return load_section("domain", args.params)


def _label_source(args: argparse.Namespace, domain) -> str:
    if not args.ingested or domain is None or domain.task is None:
        return "--labels FILE"
    if domain.task.label_set:
        return f"{domain.task.label_set}, domain.task.label_set"
    return "domain.task.label_set is null: the labels seen in train"


def from_layout(args: argparse.Namespace) -> None:
    """Fill the file arguments from an ingest layout: the parts this project's shape has."""
    from components.data.skip import is_empty

    root = Path(args.ingested)
    shape = json.loads((root / "shape.json").read_text(encoding="utf-8"))
    args.corpus = [str(root / "general.jsonl")]
    if shape["corpus"] and not is_empty(root / "domain.jsonl"):
        args.corpus.append(str(root / "domain.jsonl"))
    elif shape["corpus"]:
        args.corpus.append(str(root / "domain.jsonl"))  # configured but empty: validation says so
    if shape["task"]:
        args.task_train, args.task_dev, args.task_test = (
            str(root / f"task/{s}.jsonl") for s in ("train", "dev", "test")
        )
        args.labels = str(root / "task/labels.txt")
    args.lang = args.lang or shape.get("lang")


def run(args: argparse.Namespace) -> int:
    if args.ingested:
        from_layout(args)
    task = _check_usage(args)
    in_project = Path(args.params).exists()
    params = load_section("validate", args.params) if in_project else ValidateParams()
    if args.lang:
        params = with_derived(params, lang=args.lang)
    elif in_project:
        params = with_derived(params, lang=domain_lang(args.params))
    domain = _domain(args)
    opts = ReadOptions(
        fmt=args.format,
        encoding=args.encoding,
        text_field=[f.strip() for f in args.text_field.split(",") if f.strip()],
        label_field=args.label_field,
        allow_symlinks=bool(domain and domain.allow_symlinks),
        label_source=_label_source(args, domain),
    )
    engine, ex = load_execution(args.params)
    with OutputSet() as outs:
        # Validated in a staging folder: where the report goes depends on the outcome.
        staging = outs.dir(args.failed_report or args.report)
        call = functools.partial(
            validate_files,
            args.corpus,
            task,
            args.labels,
            params,
            opts,
            None if args.no_docs else staging / "data_docs",
            _pet_words(args) if in_project and task else None,
        )
        if engine == "ray":  # the corpora's statistics on Ray, the same report (ray_driver.py)
            from components.execution import ray_session
            from components.validate import ray_driver

            with ray_session():
                outcome = call(scanner=ray_driver.scanner(ex.ray_batch_docs))
        else:
            outcome = call(scanner=scan_here)
        keep_last_good = bool(args.failed_report) and not outcome.passed
        shown = Path(args.failed_report if keep_last_good else args.report)
        text = write_reports(
            outcome, staging, shown, has_docs=not args.no_docs, origins=origins(args, domain)
        )
        inputs = [*args.corpus, *(task or {}).values(), *([args.labels] if args.labels else [])]
        if not keep_last_good:
            if args.failed_report:
                os.replace(staging, outs.dir(args.report))  # it passed: the real report
            if args.metrics:
                write_json(outs.file(args.metrics), _metrics(outcome, engine))
            if outcome.passed and args.manifest:
                files = {manifest_key(p): {"md5": digest(p)} for p in inputs}
                manifest = {"passed": True, "files": files, "report": args.report}
                write_json(outs.file(args.manifest), manifest)
    if args.failed_report and outcome.passed:
        recover(args.failed_report)
        shutil.rmtree(args.failed_report, ignore_errors=True)  # stale: this run passed
    print(text, file=sys.stdout if outcome.passed else sys.stderr)
    if keep_last_good:
        print(
            f"The last good validation ({args.report}, {args.manifest or 'no manifest'}) was "
            "kept: stages after this one keep refusing the new inputs until they pass.",
            file=sys.stderr,
        )
    with stage_tracking("validate", params, args, inputs, enabled=in_project) as t:
        t.metrics(
            {
                "passed": float(outcome.passed),
                "failed_checks": sum(not r["success"] for r in outcome.results),
                "seconds": outcome.seconds,
            }
        )
        t.tags({"validation": "passed" if outcome.passed else "failed"})
        if t.enabled:
            import mlflow

            mlflow.log_dict(summary_dict(outcome), "validation/summary.json")
    return 0 if outcome.passed else failed(text)


def _metrics(outcome, engine: str = "local") -> dict:
    extra = {"engine": "ray"} if engine == "ray" else {}  # local: the metrics as before
    return {
        "passed": outcome.passed,
        "failed_checks": sum(not r["success"] for r in outcome.results),
        "seconds": round(outcome.seconds, 3),
        "mb_per_s": round(outcome.bytes_scanned / 1e6 / max(outcome.seconds, 1e-9), 3),
        "files": {
            p: {k: v for k, v in s.items() if k != "examples"} for p, s in outcome.stats.items()
        },
        **extra,
    }


def _pet_words(args: argparse.Namespace) -> dict[str, str] | None:
    """The verbalizer when this project runs PET, else None (nothing to check)."""
    if "domain" not in read_params_file(args.params):
        return None
    domain = load_section("domain", args.params)
    pet = load_section("evaluate", args.params).pet
    if domain.task is None or not (pet.backbones and pet.shots):
        return None
    return domain.task.pet.label_words
