"""benchmarks/deep_svdd_cifar10_cat.py --merge: runs of another process are added by variant and digit."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from deep_svdd_cifar10_cat import merge_results  # noqa: E402

KEY = "pretrain150_train150_l2"


def results(runs, command):
    return {"mnist": {KEY: {"epochs": 150, "pretrain_epochs": 150, "seed": 0, "weight_decay": "l2", "runs": runs}},
            "commands": [command]}


def test_other_digits_are_added_and_a_digit_run_by_both_keeps_the_others_run():
    ours = results({"original": {"3": {"auc": 91.9}}, "enhanced": {"3": {"auc": 88.2}}}, "a")
    other = results({"original": {"0": {"auc": 98.0}, "3": {"auc": 50.0}}}, "b")
    merged = merge_results(ours, other)
    runs = merged["mnist"][KEY]["runs"]
    assert runs["original"] == {"3": {"auc": 50.0}, "0": {"auc": 98.0}}
    assert runs["enhanced"] == {"3": {"auc": 88.2}}
    assert merged["commands"] == ["a", "b"]


def test_a_block_of_other_settings_is_kept_apart():
    other = {"mnist": {"pretrain10_train20_l2": {"epochs": 20, "pretrain_epochs": 10, "runs": {"enhanced": {"1": {}}}}}}
    merged = merge_results(results({"original": {"3": {}}}, "a"), other)
    assert set(merged["mnist"]) == {KEY, "pretrain10_train20_l2"}
    assert merged["mnist"]["pretrain10_train20_l2"]["runs"] == {"enhanced": {"1": {}}}
    assert merged["mnist"][KEY]["runs"] == {"original": {"3": {}}}
