import textwrap

import pytest
import yaml

from components.config import load_all, load_section, read_params_file
from components.errors import ConfigError
from components.profiles import ensure_profile_file, write_profile
from tests.conftest import ROOT


def params_file(tmp_path, body: str):
    path = tmp_path / "params.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_project_params_load_in_every_profile():
    for profile in ("smoke", "demo", "full"):
        sections = load_all(ROOT / "params.yaml", profile=profile)
        assert sections["domain"].lang == "zh" and sections["domain"].check() == []
    smoke = load_section("ingest", ROOT / "params.yaml", profile="smoke")
    demo = load_section("ingest", ROOT / "params.yaml", profile="demo")
    assert smoke.max_docs_per_source > 0 and demo.max_docs_per_source == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "validate:\n  corpus:\n    max_dup_rat: 0.1\n",
            r"validate\.corpus\.max_dup_rat: unknown key",
        ),
        (
            "validate:\n  corpus:\n    max_dup_rate: 1.5\n",
            r"validate\.corpus\.max_dup_rate: 1\.5 is out of range \(must be <= 1\)",
        ),
        (
            "validate:\n  corpus:\n    min_docs: many\n",
            r"validate\.corpus\.min_docs: expected an integer",
        ),
        ("validate:\n  lang: en\n", r"validate\.lang: set by domain\.lang .*remove it here"),
        (
            "validate:\n  corpus: {min_chars: 10, max_chars: 5}\n",
            r"validate\.corpus\.max_chars: must be >= min_chars",
        ),
        ("validate:\n  profiles: {tiny: {}}\n", r"validate\.profiles\.tiny: unknown profile"),
        ("profile: huge\n", r"profile: 'huge' is not one of"),
        ("validat: {}\n", r"validat: unknown section"),
    ],
)
def test_bad_params_name_the_key(tmp_path, body, message):
    path = params_file(tmp_path, body)
    with pytest.raises(ConfigError, match=message):
        load_all(path) if body.startswith(("profile", "validat:")) else load_section(
            "validate", path
        )


def test_pydantic_errors_name_the_dotted_key_the_value_and_the_fix(tmp_path):
    """Validation is pydantic's (components/params_model.py); its errors still say where (a
    nested key, a list index), what was given, and what would be accepted."""
    cases = {
        "pretrain:\n  dapt: {lr: 2}\n": "pretrain.dapt.lr: 2 is out of range (must be <= 1.0)",
        "pretrain:\n  dapt: {swa: {count: many}}\n": (
            "pretrain.dapt.swa.count: expected an integer, got 'many'"
        ),
        "mine:\n  dsir: {orders: [1, '2']}\n": "mine.dsir.orders[1]: expected an integer, got '2'",
        "decontaminate:\n  splits: [dev, train]\n": (
            "decontaminate.splits[1]: 'train' is not one of 'dev', 'test'"
        ),
        "pretrain:\n  dapt: {grad_accum: 4}\n": "pretrain.dapt.grad_accum: replaced by global_batch",
        "mine:\n  hygiene: {max_chars: 1}\n": "mine.hygiene.max_chars: must be >= min_chars",
    }
    for body, message in cases.items():
        section = body.split(":")[0]
        with pytest.raises(ConfigError) as err:
            load_section(section, params_file(tmp_path, body))
        assert str(err.value).startswith(message), (body, str(err.value))
    # A list item of a nested mapping: the index, then the key the item lacks, with its help.
    domain = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))["domain"]
    domain["corpus"].append({"format": "jsonl"})
    path = params_file(tmp_path, yaml.safe_dump({"domain": domain}, allow_unicode=True))
    n = len(domain["corpus"]) - 1
    with pytest.raises(
        ConfigError, match=rf"^domain\.corpus\[{n}\]\.path: required key is missing"
    ):
        load_section("domain", path)
    # Keys of a derived field name where its one value lives.
    with pytest.raises(ConfigError, match=r"^finetune\.pet\.template: set by domain\.task\.pet"):
        load_section("finetune", params_file(tmp_path, "finetune:\n  pet: {template: x}\n"))


def test_profile_overrides_apply_to_their_section_only(tmp_path):
    path = params_file(
        tmp_path,
        """
        profile: smoke
        validate:
          corpus: {min_docs: 1000, max_chars: 50}
          profiles:
            smoke: {corpus: {min_docs: 5}}
        """,
    )
    p = load_section("validate", path)
    assert (p.corpus.min_docs, p.corpus.max_chars) == (5, 50)
    assert load_section("validate", path, profile="demo").corpus.min_docs == 1000


def test_active_profile_lives_in_profile_yaml_and_params_yaml_stays_untouched(tmp_path):
    path = params_file(tmp_path, "# keep me\nprofile: demo\nvalidate: {}\n")
    before = path.read_bytes()
    assert ensure_profile_file(path) == "demo"  # a fresh clone: params.yaml's default
    assert ensure_profile_file(path) is None  # never overwritten
    assert load_section("validate", path).corpus.min_docs == 1000
    write_profile(path, "smoke")
    assert path.read_bytes() == before
    assert read_params_file(path)["profile"] == "smoke"
    (tmp_path / "profile.yaml").write_text("profile: huge\n")
    with pytest.raises(ConfigError, match=r"profile\.yaml: profile: 'huge' is not one of"):
        read_params_file(path)


def test_mlflow_uri_env_override_is_announced(tmp_path, monkeypatch, capsys):
    from components.config import TrackingParams
    from components.tracking import resolve_tracking_uri

    params = TrackingParams()
    assert (
        resolve_tracking_uri(params, tmp_path)
        == f"sqlite:////{str(tmp_path).lstrip('/')}/.mlflow/mlflow.db"
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////elsewhere/m.db")
    assert resolve_tracking_uri(params, tmp_path) == "sqlite:////elsewhere/m.db"
    assert (
        "MLFLOW_TRACKING_URI=sqlite:////elsewhere/m.db overrides params.yaml"
        in capsys.readouterr().err
    )


def test_dapt_params_names_keys_dvc_yaml_tracks_but_params_lack(tmp_path):
    from components.profiles import missing_tracked_keys

    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  a: {cmd: x, params: [profile, evaluate.gate, domain.lang]}\n"
        "  b: {cmd: y, params: [evaluate.pet, {other.yaml: [k]}]}\n"
    )
    params = {"profile": "smoke", "evaluate": {"gate": {}}, "domain": {"lang": "en"}}
    assert missing_tracked_keys(params, tmp_path / "dvc.yaml") == ["evaluate.pet"]
    for example in (ROOT / "params.yaml", ROOT / "examples/acl-arc/params.yaml"):
        import yaml

        data = yaml.safe_load(example.read_text(encoding="utf-8"))
        assert missing_tracked_keys(data, ROOT / "dvc.yaml") == [], example
