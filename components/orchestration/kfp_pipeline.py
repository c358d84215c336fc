"""Kubeflow Pipelines (kfp 2.x) pipeline generated from the same stage graph, compiled to YAML.

``python -m components.orchestration.kfp_pipeline --out build/kfp/domain_adaptation.yaml``
(``make kfp`` runs it in ``.venv-kfp``: kfp needs ``kubernetes<31``, the Airflow provider
``kubernetes>=32``, so they cannot share an environment).

One container component per stage, running ``components.orchestration.podrun`` in the stage
image: it pulls the parents' outputs from the DVC remote using their dvc.lock entries (passed as
component inputs), runs ``dvc repro --single-item``, pushes, and outputs its own dvc.lock entry.
GPU stages get the GPU image and accelerator limits; pretraining stages
(``kubernetes.trainjob_stages``) are a CPU step that submits the stage's Kubeflow Trainer
``TrainJob`` and waits for it (``components.orchestration.trainjob_run``: the job the Airflow
task submits), so their GPUs are the job's, on its nodes. KFP caches a step whose inputs (the
parents' lock entries) and image are unchanged, which is the same skip rule DVC applies.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

from components.orchestration.pods import PODRUN
from components.orchestration.settings import Settings, load_settings
from components.remote import ENV as REMOTE_ENV

TRAINJOB_RUN = ["python", "-m", "components.orchestration.trainjob_run"]


def _arg_name(stage: str) -> str:
    return "lock_" + stage.replace("-", "_").replace("@", "_")


def _component(stage: str, parents: list[str], image: str, command: list[str]):
    from kfp import dsl

    names = [_arg_name(p) for p in parents]

    def body(*args):
        *locks, out = args
        cmd_args = ["--stage", stage, "--out", out]
        for lock in locks:
            cmd_args += ["--locks", lock]
        return dsl.ContainerSpec(image=image, command=list(command), args=cmd_args)

    # kfp reads inputs/outputs from the signature: one string input per parent lock entry.
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    body.__signature__ = inspect.Signature(
        [inspect.Parameter(n, kind, annotation=str) for n in names]
        + [inspect.Parameter("lock", kind, annotation=dsl.OutputPath(str))]
    )
    body.__name__ = body.__qualname__ = f"stage_{stage.replace('-', '_').replace('@', '_')}"
    body.__doc__ = f"DVC stage {stage}: dvc repro --single-item {stage}"
    return dsl.container_component(body)


def build_pipeline(s: Settings):
    from kfp import dsl

    k8s = s.params.kubernetes

    @dsl.pipeline(
        name="domain-adaptation",
        description=f"Stage graph of {s.root.name}/dvc.yaml (profile {s.profile}), one step per stage",
    )
    def pipeline():
        tasks = {}
        for name in s.graph.order:
            parents = list(s.graph.upstream[name])
            trainjob = name in s.params.gpu_stages and name in k8s.trainjob_stages
            gpu = name in s.params.gpu_stages and not trainjob  # a TrainJob brings its own
            image = k8s.image_gpu if gpu else k8s.image_cpu
            comp = _component(name, parents, image, TRAINJOB_RUN if trainjob else PODRUN)
            t = comp(**{_arg_name(p): tasks[p].outputs["lock"] for p in parents})
            t.set_display_name(name)
            t.set_cpu_request(k8s.cpu if gpu else "1")
            t.set_memory_request(k8s.memory if gpu else "4Gi")
            t.set_memory_limit(k8s.memory if gpu else "8Gi")
            if gpu:
                t.set_accelerator_type(k8s.gpu_resource)
                t.set_accelerator_limit(k8s.gpus)
            if k8s.dvc_remote:
                t.set_env_variable(REMOTE_ENV, k8s.dvc_remote)
            tasks[name] = t

    return pipeline


def compile_pipeline(root: str | Path, out: str | Path) -> Path:
    from kfp import compiler

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(build_pipeline(load_settings(root)), str(out))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="kfp_pipeline", description="compile the Kubeflow pipeline")
    p.add_argument("--root", default=".", help="project root (dvc.yaml, params.yaml)")
    p.add_argument("--out", default="build/kfp/domain_adaptation.yaml")
    args = p.parse_args(argv)
    path = compile_pipeline(Path(args.root).resolve(), args.out)
    print(f"[kfp] compiled {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
