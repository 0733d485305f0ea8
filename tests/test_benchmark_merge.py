"""benchmarks/dasvdd_paper.py --merge: more seeds of one protocol add up; another protocol replaces."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from dasvdd_paper import merge_task  # noqa: E402


def task(seeds, epochs=300, tag="code-net", split_per_seed=False, baseline=None):
    made = {"dataset": "pima" if split_per_seed else "mnist", "epochs": epochs, "tag": tag,
            "overrides": {"batch_size": 128}, "preprocessing": None, "split_per_seed": split_per_seed,
            "runs": [{"seed": s, "auc": 90.0 + s} for s in seeds], "baselines": {"ocsvm": 50.0}}
    if split_per_seed:
        made["baseline_seeds"] = list(seeds)
        made["baseline_runs"] = [{"ocsvm": baseline[s]} for s in seeds]
        made["baselines"] = {"ocsvm": sum(baseline[s] for s in seeds) / len(seeds)}
    return made


def test_more_seeds_of_the_same_protocol_are_united_by_seed():
    merged = merge_task(task([0]), task([2, 1]))
    assert [r["seed"] for r in merged["runs"]] == [0, 1, 2]
    assert [r["auc"] for r in merged["runs"]] == [90.0, 91.0, 92.0]


def test_a_rerun_seed_replaces_the_old_run_of_that_seed():
    rerun = task([0])
    rerun["runs"][0]["auc"] = 42.0
    merged = merge_task(task([0, 1]), rerun)
    assert [(r["seed"], r["auc"]) for r in merged["runs"]] == [(0, 42.0), (1, 91.0)]


@pytest.mark.parametrize("change", [{"epochs": 100}, {"tag": "other"}, {"overrides": {}}])
def test_another_protocol_replaces_the_task(change):
    other = {**task([1]), **change}
    assert merge_task(task([0]), other) is other


def test_per_split_baselines_are_averaged_over_the_united_splits():
    baseline = {0: 60.0, 1: 70.0, 2: 80.0}
    merged = merge_task(task([0, 1], split_per_seed=True, baseline=baseline),
                        task([2], split_per_seed=True, baseline=baseline))
    assert merged["baseline_seeds"] == [0, 1, 2]
    assert merged["baselines"]["ocsvm"] == pytest.approx(70.0)


def test_per_split_tasks_without_their_baseline_runs_refuse_to_merge():
    old = task([0], split_per_seed=True, baseline={0: 60.0})
    del old["baseline_runs"]
    with pytest.raises(ValueError, match="baseline_runs"):
        merge_task(old, task([1], split_per_seed=True, baseline={1: 70.0}))
