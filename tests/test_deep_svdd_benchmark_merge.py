"""The deep_svdd study's records: another process's runs are added by variant and digit, settings kept apart."""

from benchmarks import results as store
from benchmarks.studies.deep_svdd_table import blocks, render

KEY = "pretrain150_train150_l2"


def results(runs, command, epochs=150, pretrain_epochs=150):
    """Results of MNIST runs {variant: {digit: auc}}."""
    records = [{"config": {"part": "mnist", "normal_class": digit, "variant": variant, "epochs": epochs,
                           "pretrain_epochs": pretrain_epochs, "weight_decay": "l2"}, "seed": 0,
                "figures": {"auc": auc, "train_seconds": 1.0}}
               for variant, by_digit in runs.items() for digit, auc in by_digit.items()]
    return {"records": records, "commands": [command]}


def aucs(block):
    return {variant: {digit: run["auc"] for digit, run in runs.items()} for variant, runs in block["runs"].items()}


def test_other_digits_are_added_and_a_digit_run_by_both_keeps_the_others_run():
    ours = results({"original": {3: 91.9}, "enhanced": {3: 88.2}}, "a")
    other = results({"original": {0: 98.0, 3: 50.0}}, "b")
    merged = store.merge(ours, other)
    assert aucs(blocks(merged, "mnist")[KEY]) == {"enhanced": {"3": 88.2}, "original": {"0": 98.0, "3": 50.0}}
    assert merged["commands"] == ["a", "b"]
    assert "| 3 | 50.00 | 88.20 |" in render(merged)


def test_a_block_of_other_settings_is_kept_apart():
    other = results({"enhanced": {1: 70.0}}, "b", epochs=20, pretrain_epochs=10)
    merged = store.merge(results({"original": {3: 91.9}}, "a"), other)
    found = blocks(merged, "mnist")
    assert set(found) == {KEY, "pretrain10_train20_l2"}
    assert aucs(found["pretrain10_train20_l2"]) == {"enhanced": {"1": 70.0}}
    assert aucs(found[KEY]) == {"original": {"3": 91.9}}
