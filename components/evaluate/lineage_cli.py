"""``dapt lineage``: walk from a registered model back to every input, or from data to models.

dapt lineage models:/NAME@champion                   the input chain as a tree
dapt lineage --data data/ingested [--hash MD5]        versions that used this data version
dapt lineage --history NAME                          every gate decision with its reason
--project DIR runs it for that project from any folder (default: the nearest folder upward
holding params.yaml); MLFLOW_TRACKING_URI, when set, names the store.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_uri", nargs="?", help="models:/NAME@ALIAS or models:/NAME/VERSION")
    p.add_argument("--data", help="a data path (DVC output, raw input or file)")
    p.add_argument("--hash", help="with --data: this version's hash instead of the current one")
    p.add_argument("--history", metavar="NAME", help="every version's gate decision and reason")
    p.add_argument("--json", action="store_true", help="print the lineage tree as JSON")
    p.add_argument("--project", help="the project folder (default: found upward from here)")


def run(args: argparse.Namespace) -> int:
    from components.evaluate.lineage_query import query

    return query(args)
