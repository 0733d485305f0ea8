"""NumPy's ``argsort(kind="quicksort")`` as it ran before NumPy 1.25, to replay old pandas sorts exactly.

The DASVDD authors' first PIMA loader sorts its table with ``DataFrame.sort_values(by=8, ascending=False)``.
That sort is not stable: which of the equal labels come first is decided by NumPy's introsort. NumPy
1.25 and later may dispatch ``argsort`` to AVX-512 code with another order of equal keys, so the
split cannot be rebuilt with today's ``np.argsort``. This is a line-by-line port of the introsort in
NumPy 1.24's ``npysort/quicksort.cpp`` (``aquicksort_``: median-of-3 partitions down to 15 + 1
elements, then insertion sort; heapsort past the depth limit), which NumPy 1.19 (the authors' Python
3.8 environment) ran as well.
"""

from __future__ import annotations

import numpy as np

SMALL_QUICKSORT = 15  # npysort: partitions of more than 16 elements are split further


def legacy_quicksort_argsort(values) -> np.ndarray:
    """Indices that sort the 1-D ``values`` ascending, in the order NumPy < 1.25 returned them."""
    v = np.asarray(values)
    if v.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {v.shape}.")
    order = list(range(len(v)))
    if len(v) < 2:
        return np.asarray(order, dtype=np.intp)

    def swap(i: int, j: int) -> None:
        order[i], order[j] = order[j], order[i]

    pl, pr = 0, len(v) - 1
    pending: list[tuple[int, int, int]] = []  # (left, right, depth) still to sort
    depth = (len(v).bit_length() - 1) * 2
    while True:
        if depth < 0:  # NumPy switches to heapsort here, whose order of ties this port does not replay
            raise NotImplementedError("the introsort depth limit was reached; NumPy's heapsort fallback is not "
                                      "ported, so the order of equal values would not be NumPy's.")
        while pr - pl > SMALL_QUICKSORT:
            pm = pl + ((pr - pl) >> 1)
            if v[order[pm]] < v[order[pl]]:
                swap(pm, pl)
            if v[order[pr]] < v[order[pm]]:
                swap(pr, pm)
            if v[order[pm]] < v[order[pl]]:
                swap(pm, pl)
            pivot = v[order[pm]]
            pi, pj = pl, pr - 1
            swap(pm, pj)
            while True:
                pi += 1
                while v[order[pi]] < pivot:
                    pi += 1
                pj -= 1
                while pivot < v[order[pj]]:
                    pj -= 1
                if pi >= pj:
                    break
                swap(pi, pj)
            swap(pi, pr - 1)
            depth -= 1
            if pi - pl < pr - pi:  # the larger part waits, the smaller is split next
                pending.append((pi + 1, pr, depth))
                pr = pi - 1
            else:
                pending.append((pl, pi - 1, depth))
                pl = pi + 1
        for pi in range(pl + 1, pr + 1):  # insertion sort of the small part
            item = order[pi]
            key = v[item]
            pj = pi
            while pj > pl and key < v[order[pj - 1]]:
                order[pj] = order[pj - 1]
                pj -= 1
            order[pj] = item
        if not pending:
            return np.asarray(order, dtype=np.intp)
        pl, pr, depth = pending.pop()


def pandas_descending_order(values) -> np.ndarray:
    """Row order of ``pd.Series(values).sort_values(ascending=False)`` in pandas 1.x with NumPy < 1.25.

    pandas' ``nargsort`` reverses the values, argsorts them ascending with quicksort and reverses the
    result.
    """
    values = np.asarray(values)
    reversed_index = np.arange(len(values))[::-1]
    return reversed_index[legacy_quicksort_argsort(values[::-1])][::-1]
