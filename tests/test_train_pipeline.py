"""Training from a data directory: loaders, reproducible files, hold-out metrics, `train` CLI."""

from __future__ import annotations

import importlib.machinery
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from train_support import write_data_dir

from agent_routing.analyzer import _datasets as datasets
from agent_routing.analyzer import load_model
from agent_routing.analyzer._pipeline import build_model, load_training_data
from agent_routing.analyzer._refit import fit_penalised_logistic
from agent_routing.cli import main
from agent_routing.cli import train as train_cli
from agent_routing.errors import ConfigError


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return write_data_dir(tmp_path / "data")


def test_loaders_label_difficulty_and_benefit(data_dir: Path) -> None:
    """Each set's difficulty comes from its own label; benefit only where outcomes exist."""
    data = load_training_data(data_dir)
    assert {fingerprint.dataset for fingerprint in data.fingerprints} == set(datasets.DATASET_NAMES)
    by_set = {
        name: [p for p in data.prompts if p.dataset == name] for name in datasets.DATASET_NAMES
    }
    assert by_set["math"][0].difficulty == 0.0
    assert by_set["math"][-1].difficulty == 1.0
    assert all(p.benefit is None for p in by_set["math"])
    first = by_set["mmlu_pro"][0]
    assert first.difficulty == pytest.approx(1 - sum(first.outcomes.values()) / len(first.outcomes))
    assert first.prompt.startswith("Question: ")
    assert "\nA. 1\nB. 2" in first.prompt
    assert all(p.benefit is not None for p in by_set["code"])


def test_pair_benefit_is_strong_right_where_weak_wrong() -> None:
    """Benefit averages p_strong * (1 - p_cheap) over pairs present in the outcomes."""
    outcomes = {"a": 0.0, "A": 1.0, "b": 1.0, "B": 1.0, "c": 0.5}
    pairs = (("a", "A"), ("b", "B"), ("c", "C"))
    assert datasets.pair_benefit(outcomes, pairs) == pytest.approx((1.0 + 0.0) / 2)
    assert datasets.pair_benefit({}, pairs) is None


def test_missing_dataset_file_is_a_config_error(tmp_path: Path) -> None:
    """A data directory without one of the sets names data_dir and the file."""
    with pytest.raises(ConfigError) as raised:
        load_training_data(tmp_path)
    assert raised.value.problems[0][0] == "data_dir"


def test_bad_math_level_names_the_row(data_dir: Path) -> None:
    """A MATH row with a level outside 1-5 is rejected with its row number."""
    path = data_dir / datasets.DATASET_FILES[datasets.MATH]
    path.write_text(json.dumps({"id": "x", "problem": "p", "level": 9}) + "\n")
    with pytest.raises(ConfigError) as raised:
        load_training_data(data_dir)
    assert raised.value.problems[0][0] == "math[row 1]"


def test_build_learns_the_difficulty_signal_and_reports_both_holdouts(data_dir: Path) -> None:
    """The ranker weights prompt size positively and stores row-level and per-set hold-outs."""
    model = build_model(data_dir, seed=0)
    weights = {f.name: f.weight for f in model.features}
    assert weights["prompt_tokens_log"] > 0
    learned = [f for f in model.features if f.source == "learned"]
    assert all(f.weight * f.direction >= 0 for f in learned if f.direction)
    for split in ("row_level_5fold", "leave_one_dataset_out", "length_baseline"):
        assert set(model.metrics[split]) == set(datasets.DATASET_NAMES)
    assert model.metrics["row_level_5fold"]["math"]["spearman_difficulty"] > 0.5
    assert any(key.startswith("apgr ") for key in model.metrics["row_level_5fold"]["mmlu_pro"])
    assert model.training["seed"] == 0
    assert [entry["rows"] for entry in model.training["data"]] == [36, 36, 36]
    distribution = model.metrics["training_scores"]
    assert distribution["prompts"] == 108
    assert len(distribution["levels"]) == len(distribution["quantiles"]) == 21
    quantiles = distribution["quantiles"]
    assert 0 < quantiles[0] <= quantiles[10] <= quantiles[-1] < 1
    assert quantiles == sorted(quantiles)
    assert distribution["logit_spread_p5_p95"] > 0


def test_train_command_is_byte_reproducible_and_seed_sensitive(
    data_dir: Path, tmp_path: Path
) -> None:
    """Same data and seed write identical bytes; another seed samples other pairs."""
    runner = CliRunner()
    outputs = []
    for name, seed in (("a.json", 0), ("b.json", 0), ("c.json", 1)):
        out = tmp_path / name
        result = runner.invoke(
            main, ["train", "--data-dir", str(data_dir), "--out", str(out), "--seed", str(seed)]
        )
        assert result.exit_code == 0, result.output
        assert f"to {out}" in result.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]
    assert load_model(tmp_path / "a.json").training["seed"] == 0


def test_train_command_json_and_default_output(data_dir: Path, isolated_home: Path) -> None:
    """--json prints one object; without --out the model goes to AGENT_ROUTING_HOME."""
    result = CliRunner().invoke(main, ["train", "--data-dir", str(data_dir), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["out"] == str(isolated_home / train_cli.DEFAULT_MODEL_FILE)
    assert payload["rows"] == 108
    assert "leave_one_dataset_out" in payload["metrics"]
    assert load_model(Path(payload["out"])).model_version == payload["model_version"]


def test_train_command_bad_data_dir_exits_2(tmp_path: Path) -> None:
    """A data directory without the sets is bad input (exit 2) naming data_dir."""
    result = CliRunner().invoke(main, ["train", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "--data-dir" in result.output


def test_from_ledger_without_learning_module_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """--from-ledger says 'not available' (exit 1) when the router's learning code is absent."""
    monkeypatch.setattr(train_cli, "LEARNING_MODULE", "agent_routing_no_such_module")
    result = CliRunner().invoke(main, ["train", "--from-ledger"])
    assert result.exit_code == 1
    assert "not available" in result.output


def test_from_ledger_calls_the_router_learning_function(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """--from-ledger passes --db, settings and --out to train_from_ledger and prints its report."""
    calls = []

    def train_from_ledger(db_path, settings, out_path):
        calls.append((db_path, settings, out_path))
        return {"rows": 12, "model_version": "cm1-test"}

    module = types.ModuleType("fake_learning")
    module.__spec__ = importlib.machinery.ModuleSpec("fake_learning", None)
    module.train_from_ledger = train_from_ledger
    monkeypatch.setitem(sys.modules, "fake_learning", module)
    monkeypatch.setattr(train_cli, "LEARNING_MODULE", "fake_learning")
    db, out = tmp_path / "ledger.db", tmp_path / "m.json"
    result = CliRunner().invoke(
        main, ["train", "--from-ledger", "--db", str(db), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"rows": 12, "model_version": "cm1-test"}
    assert calls[0][0] == db
    assert calls[0][2] == out
    assert calls[0][1].router.strategy == "balanced"


def test_penalised_logistic_matches_scikit_learn_when_centred_on_zero() -> None:
    """The refit's Newton solver agrees with sklearn's L2 LogisticRegression (C = 1/precision)."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 3))
    labels = (features @ np.array([1.5, -1.0, 0.0]) + rng.normal(0, 1, 200) > 0).astype(float)
    design = np.column_stack([np.ones(200), features])
    theta = fit_penalised_logistic(design, labels, np.zeros(4), np.array([0.0, 2.0, 2.0, 2.0]))
    reference = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit(features, labels)
    assert theta[0] == pytest.approx(reference.intercept_[0], abs=1e-4)
    assert theta[1:] == pytest.approx(reference.coef_[0], abs=1e-4)


def test_sample_per_dataset_keeps_order_and_caps_each_set(data_dir: Path) -> None:
    """A quick-run sample holds at most N rows per set, in the original order, with features."""
    from agent_routing.analyzer._pipeline import sample_per_dataset

    data = load_training_data(data_dir)
    sample = sample_per_dataset(data, 10, seed=1)
    assert [sample.groups.count(name) for name in datasets.DATASET_NAMES] == [10, 10, 10]
    positions = [data.prompts.index(p) for p in sample.prompts]
    assert positions == sorted(positions)
    assert np.array_equal(sample.text_matrix, data.text_matrix[positions])
    assert sample_per_dataset(data, 10, seed=1).prompts == sample.prompts


def test_from_ledger_rejects_dataset_options(tmp_path: Path) -> None:
    """--data-dir or --seed with --from-ledger is bad input (exit 2) naming the option."""
    for option, value in (("--data-dir", str(tmp_path)), ("--seed", "3")):
        result = CliRunner().invoke(main, ["train", "--from-ledger", option, value])
        assert result.exit_code == 2
        assert f"{option}: not used with --from-ledger" in (result.output)
