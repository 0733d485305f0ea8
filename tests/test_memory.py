"""Greedy k-centre coreset and the nearest-neighbour indexes (faiss, keras.ops)."""

from __future__ import annotations

import numpy as np
import pytest

from keras_oneclass.memory import (
    KerasNearestNeighbours,
    NearestNeighbours,
    coreset_indices,
    greedy_k_centre,
    nearest_neighbours,
    random_projection,
    resolve_search,
)


def _clustered(n=3000, d=32, clusters=50, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d)) * 3
    return (centres[rng.integers(clusters, size=n)] + rng.standard_normal((n, d))).astype(np.float32)


def _allow_grouped_steps(monkeypatch, min_groups: int) -> None:
    """On small data the dense step is cheapest and the selection never groups; tests force it."""
    from keras_oneclass.memory import coreset

    monkeypatch.setattr(coreset, "_POINTS_PER_GROUP", 10**9)
    monkeypatch.setattr(coreset, "_MIN_GROUPS", min_groups)


@pytest.mark.parametrize("points", [
    np.random.default_rng(1).standard_normal((400, 8)).astype(np.float32),  # dense path throughout
    _clustered(),                                                           # switches to pruned groups
], ids=["iid", "clustered"])
def test_every_pick_is_a_farthest_point(points, monkeypatch):
    _allow_grouped_steps(monkeypatch, 10**6)
    k = 600 if len(points) > 1000 else 60
    selected = greedy_k_centre(points, k, seed=3)
    assert len(np.unique(selected)) == k
    exact = points.astype(np.float64)
    nearest = np.full(len(points), np.inf)
    for j in range(k - 1):
        nearest = np.minimum(nearest, np.linalg.norm(exact - exact[selected[j]], axis=1))
        assert nearest[selected[j + 1]] >= nearest.max() - 1e-4 * max(1.0, nearest.max())


def test_dense_grouped_and_switching_steps_select_the_same_points(monkeypatch):
    from keras_oneclass.memory import coreset

    points = _clustered()
    groupings = []
    real_split = np.split
    monkeypatch.setattr(coreset.np, "split", lambda *a, **k: groupings.append(1) or real_split(*a, **k))
    selections = {}
    for name, min_groups in (("dense only", 0), ("grouped when pruning pays", 10**6), ("switching", 70)):
        _allow_grouped_steps(monkeypatch, min_groups)
        groupings.clear()
        selections[name] = coreset.greedy_k_centre(points, 600, seed=3)
        assert (len(groupings) > 0) == (min_groups > 0), name   # grouped steps ran exactly when allowed
    np.testing.assert_array_equal(selections["grouped when pruning pays"], selections["dense only"])
    np.testing.assert_array_equal(selections["switching"], selections["dense only"])


def test_greedy_matches_plain_farthest_point_on_small_data():
    points = np.random.default_rng(0).standard_normal((300, 6)).astype(np.float32)
    selected = greedy_k_centre(points, 40, seed=0)
    reference, nearest = [selected[0]], np.full(300, np.inf)
    for _ in range(39):
        nearest = np.minimum(nearest, np.linalg.norm(points - points[reference[-1]], axis=1))
        reference.append(int(np.argmax(nearest)))
    np.testing.assert_array_equal(selected, reference)


def test_coreset_covers_the_data_better_than_a_random_subset():
    points = _clustered(2000, 16, clusters=40, seed=2)
    keep = coreset_indices(points, ratio=0.05, projection_dim=None, seed=0)
    assert keep.shape == (100,)
    random = np.random.default_rng(0).choice(2000, 100, replace=False)

    def covering_radius(idx):
        return NearestNeighbours(points[idx]).search(points, k=1)[0].max()

    assert covering_radius(keep) < 0.8 * covering_radius(random)


def test_random_projection_shape_and_distance_preservation():
    points = np.random.default_rng(0).standard_normal((200, 512)).astype(np.float32)
    projected = random_projection(points, 128, seed=0)
    assert projected.shape == (200, 128) and projected.dtype == np.float32
    ratio = np.linalg.norm(projected[1:] - projected[0], axis=1) / np.linalg.norm(points[1:] - points[0], axis=1)
    assert 0.75 < ratio.min() and ratio.max() < 1.25
    np.testing.assert_array_equal(random_projection(points, 128, seed=0), projected)
    assert random_projection(points[:, :64], 128) is not None and random_projection(points[:, :64], 128).shape == (200, 64)


def test_coreset_rejects_bad_arguments():
    with pytest.raises(ValueError, match="ratio"):
        coreset_indices(np.zeros((10, 4)), ratio=0.0)
    with pytest.raises(ValueError, match="n_centres"):
        greedy_k_centre(np.zeros((10, 4)), 11)
    with pytest.raises(ValueError, match="non-empty"):
        coreset_indices(np.zeros((0, 4)))


def test_flat_index_is_exact():
    rng = np.random.default_rng(0)
    bank, queries = rng.standard_normal((500, 24)).astype(np.float32), rng.standard_normal((50, 24)).astype(np.float32)
    distances, ids = NearestNeighbours(bank).search(queries, k=3)
    brute = np.linalg.norm(queries[:, None] - bank[None], axis=-1)
    np.testing.assert_array_equal(ids, np.argsort(brute, axis=1)[:, :3])
    np.testing.assert_allclose(distances, np.sort(brute, axis=1)[:, :3], rtol=1e-4, atol=1e-4)


def test_ivf_index_finds_most_exact_neighbours():
    bank = _clustered(5000, 16, clusters=30, seed=4)
    queries = bank[:200] + 0.01
    _, exact = NearestNeighbours(bank).search(queries, k=1)
    index = NearestNeighbours(bank, index="ivf", n_probe=4)
    assert index.index.nlist > 1
    _, approx = index.search(queries, k=1)
    assert np.mean(approx == exact) > 0.9


def test_index_rejects_bad_queries():
    index = NearestNeighbours(np.zeros((5, 3), np.float32))
    with pytest.raises(ValueError, match="queries"):
        index.search(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="k must be"):
        index.search(np.zeros((2, 3)), k=6)
    with pytest.raises(ValueError, match="index"):
        NearestNeighbours(np.zeros((5, 3)), index="hnsw")


@pytest.mark.parametrize("chunk_elements", [2**24, 3000], ids=["one-chunk", "many-chunks"])
def test_keras_search_matches_faiss(chunk_elements):
    pytest.importorskip("faiss")
    bank = _clustered(2000, 48, clusters=40, seed=5) * 4  # large norms: the decomposition cancels
    rng = np.random.default_rng(6)
    queries = np.concatenate([bank[:100] + rng.normal(0, 0.05, (100, 48)), rng.normal(0, 12, (157, 48))])
    queries = queries.astype(np.float32)
    keras_distances, keras_ids = KerasNearestNeighbours(bank, chunk_elements=chunk_elements).search(queries, k=5)
    faiss_distances, faiss_ids = NearestNeighbours(bank).search(queries, k=5)
    assert keras_distances.dtype == np.float32 and keras_ids.dtype == np.int64 and keras_ids.shape == (257, 5)
    np.testing.assert_allclose(keras_distances, faiss_distances, rtol=1e-5, atol=1e-4)
    brute = np.linalg.norm(queries[:, None].astype(np.float64) - bank[None], axis=-1)
    np.testing.assert_allclose(keras_distances, np.sort(brute, axis=1)[:, :5], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(keras_ids[:, 0], faiss_ids[:, 0])
    np.testing.assert_array_equal(keras_ids, np.argsort(brute, axis=1)[:, :5])
    distances, ids = KerasNearestNeighbours(bank).search(bank[:7], k=1)  # a bank row is its own neighbour
    np.testing.assert_array_equal(ids[:, 0], np.arange(7))
    assert distances.max() == 0.0  # exact re-ranking: no cancellation error


def test_search_choice_and_keras_index_errors(monkeypatch):
    import importlib.util

    assert resolve_search("keras") == "keras" and resolve_search("faiss") == "faiss"
    with pytest.raises(ValueError, match="search"):
        resolve_search("annoy")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "faiss" else real_find_spec(name, *a))
    assert resolve_search("auto") == "keras"
    assert isinstance(nearest_neighbours(np.eye(3, dtype=np.float32)), KerasNearestNeighbours)
    index = KerasNearestNeighbours(np.zeros((5, 3), np.float32))
    with pytest.raises(ValueError, match="queries"):
        index.search(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="k must be"):
        index.search(np.zeros((2, 3)), k=6)
    with pytest.raises(ValueError, match="non-empty"):
        KerasNearestNeighbours(np.zeros((0, 3)))


def test_package_imports_without_faiss():
    """faiss is imported on first use only: a subprocess imports the package and checks."""
    import subprocess
    import sys

    code = "import sys, keras_oneclass, keras_oneclass.memory, keras_oneclass.models; print('faiss' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "False"
