"""benchmarks.results with the dasvdd_paper study: more seeds of a protocol add up; another protocol supersedes."""

import pytest

from benchmarks import results as store
from benchmarks.studies import dasvdd_paper
from benchmarks.studies.dasvdd_paper_table import tasks


def config(epochs=300, tag="code-net", split_per_seed=False, overrides=None):
    return {"dataset": "pima" if split_per_seed else "mnist", "normal_class": None if split_per_seed else 0,
            "epochs": epochs, "tag": tag, "overrides": {"batch_size": 128} if overrides is None else overrides,
            "preprocessing": None, "split_per_seed": split_per_seed}


def run(seeds, baseline=None, first=None, **settings):
    """Results holding one record per seed; baselines on the first seed, or per seed (per-seed splits)."""
    results = {"records": []}
    for seed in seeds:
        figures = {"auc": 90.0 + seed, "seconds_per_epoch": 1.0, "train_size": 10}
        if baseline is not None or seed == (first if first is not None else seeds[0]):
            figures["baselines"] = {"ocsvm": baseline[seed] if baseline else 50.0 + seed, "kde": 0.0,
                                    "isolation_forest": 0.0}
        store.add(results, {"config": config(**settings), "seed": seed, "figures": figures}, dasvdd_paper.same_task)
    return results


def test_more_seeds_of_the_same_protocol_are_united_by_seed():
    [task] = tasks(store.merge(run([0]), run([2, 1], first=1), dasvdd_paper.same_task))
    assert [(r["seed"], r["auc"]) for r in task["runs"]] == [(0, 90.0), (1, 91.0), (2, 92.0)]
    assert task["baselines"]["ocsvm"] == 50.0  # the lowest seed's fit: one split, one set of baselines


def test_a_rerun_seed_replaces_the_old_record_of_that_seed():
    rerun = run([0])
    rerun["records"][0]["figures"]["auc"] = 42.0
    merged = store.merge(run([0, 1]), rerun, dasvdd_paper.same_task)
    assert len(merged["records"]) == 2
    assert [(r["seed"], r["auc"]) for r in tasks(merged)[0]["runs"]] == [(0, 42.0), (1, 91.0)]


@pytest.mark.parametrize("change", [{"epochs": 100}, {"overrides": {}}])
def test_another_protocol_of_the_task_supersedes_it_and_keeps_its_figures(change):
    merged = store.merge(run([0, 1]), run([5], **change), dasvdd_paper.same_task)
    [task] = tasks(merged)
    assert [r["seed"] for r in task["runs"]] == [5] and task["epochs"] == change.get("epochs", 300)
    kept = [r for r in merged["records"] if r.get("superseded")]
    assert [(r["seed"], r["figures"]["auc"]) for r in kept] == [(0, 90.0), (1, 91.0)]


def test_another_tag_is_another_task():
    merged = store.merge(run([0]), run([0], tag="other"), dasvdd_paper.same_task)
    assert sorted(t["tag"] for t in tasks(merged)) == ["code-net", "other"]
    assert not any(r.get("superseded") for r in merged["records"])


def test_per_split_baselines_are_averaged_over_the_united_splits():
    baseline = {0: 60.0, 1: 70.0, 2: 80.0}
    merged = store.merge(run([0, 1], baseline, split_per_seed=True), run([2], baseline, split_per_seed=True),
                         dasvdd_paper.same_task)
    assert tasks(merged)[0]["baselines"]["ocsvm"] == pytest.approx(70.0)


def test_a_stored_mean_over_splits_weighs_as_many_splits():
    older = run([0, 1, 2], split_per_seed=True)  # baselines on seed 0's record only: the mean over three splits
    older["records"][0]["figures"]["baseline_splits"] = 3
    newer = run([3], {3: 90.0}, split_per_seed=True)
    [task] = tasks(store.merge(older, newer, dasvdd_paper.same_task))
    assert task["baselines"]["ocsvm"] == pytest.approx((3 * 50.0 + 90.0) / 4)
