"""Hand-off confinement: only regular files inside the drop folder are ever taken or moved."""

from __future__ import annotations

import pytest
import yaml

from components.errors import ConfigError, InputError
from components.orchestration import handoff
from tests.conftest import domain_section

DROP = "data/incoming"
PATTERNS = ["*.jsonl", "*.txt"]


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "project"
    domain = domain_section(deliveries={"folder": "raw/deliveries"})
    (root / DROP).mkdir(parents=True)
    (root / "params.yaml").write_text(yaml.safe_dump({"domain": domain}), encoding="utf-8")
    manifest = root / "data/validated/manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text('{"passed": true}', encoding="utf-8")
    return root


def refused(root, path, match: str) -> None:
    with pytest.raises(InputError, match=match):
        handoff.received(root, DROP, path, PATTERNS)


def test_a_delivery_is_a_regular_file_inside_the_drop_folder(root, tmp_path):
    good = root / DROP / "batch.txt"
    good.write_text("一行\n", encoding="utf-8")
    assert handoff.received(root, DROP, "batch.txt", PATTERNS) == good.resolve()
    assert handoff.received(root, DROP, f"{DROP}/batch.txt", PATTERNS) == good.resolve()
    assert handoff.received(root, DROP, str(good), PATTERNS) == good.resolve()

    private = tmp_path / "private.txt"
    private.write_text("secret\n", encoding="utf-8")
    refused(root, str(private), "outside the drop folder")
    refused(root, "data/validated/manifest.json", "outside the drop folder")
    refused(root, f"{DROP}/../validated/manifest.json", "outside the drop folder")
    (root / DROP / "link.txt").symlink_to(private)
    refused(root, f"{DROP}/link.txt", "symbolic link")
    (root / DROP / "notes.md").write_text("x", encoding="utf-8")
    refused(root, "notes.md", "does not match the delivery patterns")
    refused(root, "missing.txt", "not found")
    # the scan never offers a link, only the regular file
    assert handoff.pick(root, DROP, PATTERNS, None) == good.resolve()
    good.unlink()
    assert handoff.pick(root, DROP, PATTERNS, None) is None
    assert private.read_text(encoding="utf-8") == "secret\n"  # untouched throughout


def test_validate_and_version_never_move_what_was_not_received(root, tmp_path):
    manifest = root / "data/validated/manifest.json"
    before = manifest.read_bytes()
    with pytest.raises(InputError, match="outside the drop folder"):
        handoff.validate_delivery(root, manifest, "reports", "data/quarantine", DROP, PATTERNS)
    outcome = {"passed": True, "path": str(manifest), "report": "r"}
    with pytest.raises(InputError, match="outside the drop folder"):
        handoff.version_delivery(root, outcome, DROP, PATTERNS)
    assert manifest.read_bytes() == before
    assert not (root / "data/quarantine").exists() and not (root / "raw/deliveries").exists()


def test_a_project_without_deliveries_folder_refuses_before_anything_moves(root):
    (root / "params.yaml").write_text(yaml.safe_dump({"domain": domain_section()}), "utf-8")
    with pytest.raises(ConfigError, match=r"domain\.deliveries: not set"):
        handoff.deliveries_folder(root)
