"""The one place a project names its domain: params.yaml section ``domain``.

Everything domain-specific lives here: the domain's name and language, its raw inputs (domain
corpus, general text, reference lexicons, the labeled task), the base model, and the names
derived from them (MLflow experiment and registered model). dvc.yaml, the DAGs and the code name
no domain: they read these values (dvc.yaml through ``${domain.*}`` interpolation).

Three project shapes follow from what is configured (``Shape``):
  corpus + task   DAPT, TAPT, fine-tuning, task-score gate
  task only       no ``corpus``: mining and DAPT are skipped (said so), TAPT runs
  corpus only     no ``task``: DAPT runs, the gate uses domain perplexity with a general guard
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from components.config import param

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass
class SourceSpec:
    """One raw input file and how to read it."""

    path: str
    format: str | None = None
    encoding: str = "utf-8"
    text_fields: list[str] = field(default_factory=lambda: ["text"])
    label_field: str | None = None
    id_field: str = "id"
    columns: list[str] | None = None


@dataclass
class PetSpec:
    """Pattern-verbalizer settings: the task's own words, so they live with the task."""

    template: str = param("{text} {mask}", help="{text} is the input, {mask} the label-word slot")
    label_words: dict[str, str] = param({}, help="label -> verbalizer word (every label needed)")

    def check(self) -> list[str]:
        if "{text}" not in self.template or "{mask}" not in self.template:
            return ["template: must contain {text} and {mask}"]
        return []


@dataclass
class TaskSpec:
    """The labeled task. Without ``dev``, a stratified ``dev_fraction`` of train is held out."""

    train: SourceSpec
    test: SourceSpec
    dev: SourceSpec | None = None
    label_set: str | None = param(None, help="one label per line; null = the labels seen in train")
    dev_fraction: float = param(0.1, gt=0, lt=0.5, help="held out of train when dev is null")
    pet: PetSpec = field(default_factory=PetSpec)


@dataclass
class DeliveriesSpec:
    """Where corpus_handoff puts accepted deliveries: a folder under ``domain.inputs`` (so it is
    an input of ``ingest``), versioned by DVC (``<folder>.dvc``). ingest reads every file in it
    as more domain corpus; an accepted delivery therefore re-runs the pipeline on new data."""

    folder: str = param(help="inside domain.inputs, e.g. <inputs>/deliveries")
    text_fields: list[str] = param(["text"], help="text field(s) of .jsonl deliveries")


@dataclass
class Shape:
    corpus: bool
    task: bool

    @property
    def name(self) -> str:
        if self.corpus and self.task:
            return "corpus+task"
        return "corpus-only" if self.corpus else "task-only"


@dataclass
class DomainParams:
    """Keys without a default are required, so the project's shape is always stated (dvc.yaml
    also names them as parameters: DVC needs them present)."""

    name: str = param(help="lower-case slug; names the MLflow experiment and models")
    lang: Literal["zh", "en"] = param(help="zh: Chinese characters; en: English words")
    inputs: str = param(
        help="project folder holding every raw input below (DVC tracks it as ingest's input)"
    )
    base_model: str = param(help="save_pretrained folder of the base model, inside the project")
    corpus: list[SourceSpec] = param(help="unlabeled domain text; [] = a task-only project")
    general: list[SourceSpec] = param(help="general text: mining pool, replay, control")
    task: TaskSpec | None = param(help="the labeled task; null = a corpus-only project")
    lexicons: dict[str, str] = param(
        {}, help="name -> word list: whole-word masking units and the reference for new words"
    )
    deliveries: DeliveriesSpec | None = param(
        None, help="corpus_handoff's accepted deliveries, read as domain corpus; null: none"
    )
    allow_symlinks: bool = param(
        False,
        help="read inputs through symbolic links (resolved; the targets are recorded in "
        "metrics/ingest.json); false: a link is refused, so none can pull in a file from elsewhere",
    )
    registered_model: str = param("", help="MLflow registered model; '' = <name>-classifier")
    experiment: str = param("", help="MLflow experiment; '' = <name>-adaptation")

    @property
    def shape(self) -> Shape:
        return Shape(corpus=bool(self.corpus), task=self.task is not None)

    @property
    def model_name(self) -> str:
        """The registered model: a classifier, or the adapted encoder when there is no task."""
        if self.registered_model:
            return self.registered_model
        return f"{self.name}-classifier" if self.task is not None else f"{self.name}-mlm"

    @property
    def student_model_name(self) -> str:
        """The distilled student of the classifier (the ``distill`` stage): ``<model>-small``."""
        return f"{self.model_name}-small"

    @property
    def experiment_name(self) -> str:
        return self.experiment or f"{self.name}-adaptation"

    def candidate_dir(self, name: str) -> str:
        """The folder of a pretraining candidate: stage name = folder name (base: the base)."""
        return self.base_model if name == "base" else f"models/{name}"

    def sources(self) -> list[tuple[str, str]]:
        """(field, path) of every raw input, for confinement checks and lineage."""
        out = [(f"corpus[{i}].path", s.path) for i, s in enumerate(self.corpus)]
        out += [(f"general[{i}].path", s.path) for i, s in enumerate(self.general)]
        out += [(f"lexicons.{k}", v) for k, v in self.lexicons.items()]
        if self.deliveries is not None:
            out.append(("deliveries.folder", self.deliveries.folder))
        if self.task is not None:
            for split in ("train", "dev", "test"):
                spec = getattr(self.task, split)
                if spec is not None:
                    out.append((f"task.{split}.path", spec.path))
            if self.task.label_set:
                out.append(("task.label_set", self.task.label_set))
        return out

    def check(self) -> list[str]:
        if not NAME_RE.match(self.name):
            return [f"name: {self.name!r} must be a lower-case slug (letters, digits, - and _)"]
        if not self.general:
            return ["general: at least one general-text source is required (mining, replay)"]
        if not self.corpus and self.task is None:
            return ["corpus: give a domain corpus, a task, or both (there is nothing to adapt to)"]
        problems = []
        inputs = _relative(self.inputs)
        if inputs is None:
            return [f"inputs: {self.inputs!r} must be a folder inside the project (relative path)"]
        for key, path in self.sources():
            rel = _relative(path)
            if rel is None or not (rel == inputs or rel.startswith(inputs + "/")):
                problems.append(
                    f"{key}: {path!r} is outside domain.inputs ({self.inputs}): DVC only "
                    f"tracks that folder, so changes to this file would go unnoticed; move it "
                    f"under {self.inputs}/ or set domain.inputs to a folder holding every input"
                )
        if self.deliveries is not None:
            folder = _relative(self.deliveries.folder)
            if folder == inputs:
                problems.append(
                    f"deliveries.folder: {self.deliveries.folder!r} must be a sub-folder of "
                    f"domain.inputs (DVC versions it on its own), e.g. {inputs}/deliveries"
                )
            if not self.corpus:
                problems.append(
                    "deliveries: deliveries add to the domain corpus, and this project declares "
                    "none (domain.corpus: []): declare a corpus or set deliveries: null"
                )
        if _relative(self.base_model) is None:
            problems.append(
                f"base_model: {self.base_model!r} must be a folder inside the project; snapshot "
                f"a hub model first: dapt snapshot {self.base_model} --out models/<name>"
            )
        return problems


def _relative(path: str) -> str | None:
    """Normalised project-relative POSIX path, or None when absolute or escaping with ``..``."""
    if not path or Path(path).is_absolute() or "\\" in path:
        return None
    norm = posixpath.normpath(path)
    if norm == ".." or norm.startswith("../"):
        return None
    return norm


def domain_lang(params_file: str | Path, override: str | None = None) -> str:
    """``domain.lang`` for stages that need only the language (checked again where it is
    copied in); ``zh`` when the file has no domain section (ad-hoc use of a single command)."""
    if override:
        return override
    from components.config import read_params_file

    if not Path(params_file).exists():
        return "zh"
    section = read_params_file(params_file).get("domain") or {}
    return str(section.get("lang", "zh"))


def project_shape(params_file: str | Path) -> Shape | None:
    """The project's shape, or None for ad-hoc use without a ``domain`` section."""
    from components.config import load_section, read_params_file

    if not Path(params_file).exists() or "domain" not in read_params_file(params_file):
        return None
    return load_section("domain", params_file).shape
