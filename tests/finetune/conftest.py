import pytest

from tests.finetune.tiny import build_backbone, write_task


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """(backbone folder, task paths): built once per session, offline."""
    root = tmp_path_factory.mktemp("tiny")
    return build_backbone(root / "backbone"), write_task(root / "task")
