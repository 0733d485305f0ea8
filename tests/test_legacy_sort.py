"""benchmarks.legacy_sort: NumPy < 1.25's quicksort argsort, to rebuild the DASVDD authors' PIMA split.

The expected orders below were printed by NumPy 1.24.4 (``np.argsort(x, kind="quicksort")``) and by
pandas 1.5.3 on that NumPy; the port matched NumPy 1.24.4 on 440 random int and float arrays of 1 to
5,000 elements when it was written.
"""

import numpy as np
import pytest

from benchmarks.legacy_sort import legacy_quicksort_argsort, pandas_descending_order


def test_ties_are_ordered_as_numpy_1_24_ordered_them():
    x = [1, 1, 2, 2, 0, 0, 2, 2, 0, 0, 2, 1, 0, 2, 0, 1, 1]  # 17 elements: one partition, then insertion
    assert legacy_quicksort_argsort(x).tolist() == [8, 14, 12, 4, 5, 9, 11, 15, 0, 1, 16, 6, 10, 3, 2, 13, 7]
    x = [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 1,
         1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    assert legacy_quicksort_argsort(x).tolist() == [
        39, 38, 18, 16, 15, 14, 28, 29, 31, 23, 8, 7, 32, 35, 36, 37, 9, 24, 33, 34,
        27, 26, 25, 30, 0, 21, 20, 17, 13, 12, 11, 10, 6, 5, 4, 3, 2, 1, 22, 19]


def test_it_sorts_and_small_inputs_stay_stable():
    rng = np.random.default_rng(0)
    for n in (0, 1, 2, 16, 17, 100, 1000):
        x = rng.integers(0, 4, n)
        order = legacy_quicksort_argsort(x)
        assert sorted(order.tolist()) == list(range(n))
        assert np.all(np.diff(x[order]) >= 0)
    small = rng.integers(0, 2, 16)  # up to 16 elements NumPy only insertion-sorts: stable
    assert legacy_quicksort_argsort(small).tolist() == np.argsort(small, kind="stable").tolist()


def test_pandas_descending_sort_of_labels():
    y = np.array([1, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0])
    # pd.Series(y).sort_values(ascending=False).index in pandas 1.5.3 on NumPy 1.24.4
    assert pandas_descending_order(y).tolist() == [0, 13, 2, 4, 19, 18, 8, 20, 17, 16, 15, 14, 11, 12, 1, 10,
                                                   9, 7, 6, 5, 3, 21]
    with pytest.raises(ValueError, match="1-D"):
        legacy_quicksort_argsort(np.zeros((2, 2)))
