"""The ingest stage behind ``dapt ingest`` (components/ingest/cli.py parses): write the
canonical layout and its metrics together, say what was read and kept, log the MLflow run."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from components.config import load_section
from components.data.outputs import OutputSet
from components.data.writers import write_json
from components.execution import load_execution
from components.ingest.core import Links, ingest, prepare_here
from components.stagerun import stage_tracking


def run(args: argparse.Namespace) -> int:
    domain = load_section("domain", args.params)
    params = load_section("ingest", args.params)
    engine, ex = load_execution(args.params)
    start = time.perf_counter()
    links = Links()
    with OutputSet() as outs:  # the layout and its metrics change together
        if engine == "ray":  # normalisation on Ray workers, the same bytes (ray_driver.py)
            from components.execution import ray_session
            from components.ingest import ray_driver

            with ray_session():
                prepared = ray_driver.prepared(ex.ray_batch_docs)
                whole = ray_driver.whole_role(ex.ray_batch_docs, ex.shards)
                report = ingest(domain, params, outs.dir(args.out), links, prepared, whole)
        else:
            report = ingest(domain, params, outs.dir(args.out), links, prepare_here)
        metrics = {
            "shape": domain.shape.name,
            "seconds": round(time.perf_counter() - start, 3),
            "outputs": report,
        }
        if engine == "ray":
            metrics["engine"] = "ray"
        if links:
            metrics["symlinks"] = dict(links)  # lineage: what was really read
        write_json(outs.file(args.metrics), metrics)
    for key, link in links.items():
        print(f"[ingest] {key}: {link['path']} is a symbolic link, read from {link['resolved']}")
    print(f"[ingest] project shape: {domain.shape.name} ({domain.name}, {domain.lang})")
    for name, c in report.items():
        if name == "deliveries":
            print(f"[ingest] deliveries: {c['files']} file(s) read as domain corpus")
            continue
        dropped = {k: v for k, v in c.items() if k.startswith("dropped")}
        print(f"[ingest] {name}: kept {c.get('kept', 0)}" + (f", {dropped}" if dropped else ""))
    sources = [path for _, path in domain.sources()]
    with stage_tracking("ingest", params, args, sources) as t:
        t.metrics({"outputs": report})
        t.artifact(Path(args.metrics))
    return 0
