"""The choice is made on dev: a candidate that wins on dev but not on paired test is chosen by
compare and then refused by the gate (test used once, by the gate)."""

from components.compare.core import Combo, choose, markdown_table
from components.evaluate.gate import decide
from components.evaluate.params import GateParams
from components.finetune.core import RunResult
from components.finetune.matrix import Unit
from components.register.core import scores_of
from tests.evaluate.synthetic import labels, predictions


def combo(candidate, strategy, dev, test_acc=(), shots=None, y=None):
    runs = []
    for seed, d in enumerate(dev):
        pred = predictions(y, test_acc[seed], seed, candidate) if y is not None else []
        r = RunResult(strategy, seed, 0.5, 0.5, pred, d, d, [], d, 10, 10, 1.0)
        runs.append((Unit(candidate, strategy, seed, shots), r))
    key = f"{candidate}/{strategy}" if strategy != "pet" else f"{candidate}/pet-{shots}shot"
    return Combo(key, candidate, strategy, shots, runs)


def test_choice_is_the_best_dev_mean_never_the_control_or_pet():
    combos = [
        combo("base", "full", [0.40, 0.42]),
        combo("control", "full", [0.60, 0.62]),  # best of all, but it is the control
        combo("dapt", "full", [0.45, 0.47]),
        combo("dapt", "lora", [0.44, 0.46]),
        combo("dapt", "pet", [0.90, 0.90], shots=32),
    ]
    assert choose(combos, control="control").key == "dapt/full"
    assert choose(combos, control="").key == "control/full"  # no control configured
    assert choose([combo("control", "full", [0.5])], control="control") is None


def test_an_extra_strategy_is_a_table_row_never_the_choice():
    from components.finetune.matrix import plan

    units = plan(["base", "dapt"], ["full"], 2, [], [], {"bitfit": ["base"], "full": ["base"]})
    assert sorted({u.combo for u in units}) == ["base/bitfit", "base/full", "dapt/full"]
    assert len(units) == 6  # full is already everywhere: no second copy
    combos = [combo("base", "full", [0.4]), combo("base", "bitfit", [0.9])]
    assert choose(combos).key == "base/bitfit"
    assert choose(combos, extra=("bitfit",)).key == "base/full"
    table = markdown_table([*combos, combo("dapt", "full", [0.5])], "macro_f1")
    assert "| full | bitfit |" in table and "| dapt | " in table and "–" in table  # no dapt/bitfit


def test_a_dev_winner_without_a_paired_test_win_is_chosen_but_not_promoted():
    y = labels()
    base = combo("base", "full", [0.50, 0.51, 0.50], [0.70, 0.70, 0.70], y=y)
    dapt = combo("dapt", "full", [0.60, 0.61, 0.62], [0.70, 0.70, 0.70], y=y)  # dev only
    chosen = choose([base, dapt])
    assert chosen.key == "dapt/full"
    d = decide(scores_of(chosen), scores_of(base), None, y, GateParams(bootstrap_samples=300))
    assert not d.promote and d.alias == "challenger"
