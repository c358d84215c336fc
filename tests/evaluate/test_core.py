from components.evaluate.core import Combo, pick_best
from components.finetune.core import RunResult


def combo(candidate, strategy, f1s, shots=None):
    runs = [RunResult(strategy, i, 0.5, f1, [], f1, 10, 10, 1.0) for i, f1 in enumerate(f1s)]
    return Combo(candidate, strategy, shots, runs)


def test_best_is_the_highest_mean_classifier_but_never_the_control_or_pet():
    combos = [
        combo("base", "full", [0.40, 0.42]),
        combo("control", "full", [0.60, 0.62]),  # best of all, but it is the control
        combo("dapt", "full", [0.45, 0.47]),
        combo("dapt", "lora", [0.44, 0.46]),
        combo("dapt", "pet", [0.90, 0.90], shots=32),
    ]
    assert pick_best(combos, control="control").key == "dapt/full"
    assert pick_best(combos, control="").key == "control/full"  # no control configured


def test_only_the_control_evaluated_leaves_nothing_to_register():
    assert pick_best([combo("control", "full", [0.5, 0.6])], control="control") is None
