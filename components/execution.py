"""Where the data stages run: ``execution.engine: local | ray`` (params.yaml section ``execution``).

``local`` (the default, and what ``make run`` uses) runs each data stage in its own process or a
local process pool and never imports Ray. ``ray`` runs the same per-document / per-block
functions as Ray Data pipelines, on the cluster named by ``RAY_ADDRESS`` or on a local Ray the
stage starts (and stops) itself. ``DAPT_ENGINE`` overrides the param for one run and says so on
stderr, like ``MLFLOW_TRACKING_URI`` and ``DAPT_EXECUTION``.

The engine changes where the work runs, not what it computes (the equivalence tests in
tests/data/test_raydata.py and each stage's test_ray.py hold the two to the same outputs), so
DVC stages do not list this section: switching engines does not re-run them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from components.config import load_section, param
from components.errors import ConfigError

ENGINE_ENV = "DAPT_ENGINE"
ENGINES = ("local", "ray")
# The stages that run on Ray under ``engine: ray`` (each calls ``load_execution``): the one list
# the orchestrators consult (an Airflow task submits these as Ray jobs, docs/ray.md).
RAY_STAGES = ("ingest", "validate", "mine", "decontaminate", "newwords")
RAY_ADDRESS_ENV = "RAY_ADDRESS"


def ray_job_address(environ: Mapping[str, str] | None = None) -> str | None:
    """The Ray Jobs API address (the dashboard's ``http(s)://host:8265``) when ``RAY_ADDRESS``
    is one, as for ``ray job submit``; None for a cluster address (``host:6379``, ``ray://``,
    ``auto``), which a stage's own process joins as the driver instead."""
    address = (os.environ if environ is None else environ).get(RAY_ADDRESS_ENV, "").strip()
    return address.rstrip("/") if address.startswith(("http://", "https://")) else None


@dataclass
class ExecutionParams:
    """How the data stages (ingest, validate, mine, decontaminate, newwords) are executed."""

    engine: Literal["local", "ray"] = param(
        "local", help=f"local | ray (Ray Data); the {ENGINE_ENV} environment variable overrides"
    )
    # Batches are the unit of parallelism: Ray Data reads a file as one block, so a file of
    # fewer documents than this would go to one worker (the 35 MB news file has 1,423).
    ray_batch_docs: int = param(
        500, ge=1, help="documents per Ray Data batch handed to a per-block function"
    )
    # Off: one file per output, as the local engine writes (a byte copy of the parts by the
    # driver). On: no machine copies the output; every stage reads the folder as that file.
    shards: bool = param(
        False,
        help="ray engine: leave the JSONL outputs Ray workers write (ingest's JSONL corpora, "
        "mining, decontamination) as folders of ordered part-*.jsonl shards "
        "(components/data/shards.py) instead of one file each",
    )

    def check(self) -> list[str]:
        env = os.environ.get(ENGINE_ENV)
        if env and env not in ENGINES:
            return [f"engine: {ENGINE_ENV}={env!r} must be one of {', '.join(ENGINES)}"]
        return []


def resolve_engine(params: ExecutionParams) -> str:
    """The engine to use: ``DAPT_ENGINE`` when set (announced on stderr), else the param."""
    env = os.environ.get(ENGINE_ENV)
    if not env:
        return params.engine
    if env not in ENGINES:
        raise ConfigError(f"{ENGINE_ENV}={env!r}: must be one of {', '.join(ENGINES)}")
    if env != params.engine:
        print(
            f"[execution] {ENGINE_ENV}={env} overrides params.yaml execution.engine={params.engine}",
            file=sys.stderr,
        )
    return env


def load_execution(path: str | os.PathLike = "params.yaml") -> tuple[str, ExecutionParams]:
    """(engine, params); a params file without the section, or no params file (ad-hoc use of a
    stage outside a project), gets the defaults."""
    p = load_section("execution", path) if Path(path).exists() else ExecutionParams()
    return resolve_engine(p), p


@contextlib.contextmanager
def ray_session(*, num_cpus: int | None = None) -> Iterator[None]:
    """Ray for one stage: the running one (a test session, a Ray job's driver), the cluster at
    ``RAY_ADDRESS``, or a local Ray started here and shut down on exit.

    Ray Data keeps input order (``preserve_order``): the drivers write rows in the order the
    local path does, so outputs are identical and sequential steps (dedup) see the same order.
    """
    import ray

    started = False
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS") or None
        if address is None:
            print(
                "[execution] no RAY_ADDRESS: starting a local Ray for this stage", file=sys.stderr
            )
        ray.init(
            address=address,
            num_cpus=num_cpus if address is None else None,
            include_dashboard=False,
            log_to_driver=False,
        )
        started = True
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    try:
        yield
    finally:
        if started:
            ray.shutdown()
