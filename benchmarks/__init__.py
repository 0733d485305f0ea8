"""The package's benchmark studies: ``python -m benchmarks <study> [options]``, ``python -m benchmarks --list``.

Each study (``benchmarks/studies/<name>.py``) declares its options, the (configuration, seed) pairs a run
measures, a function that measures one pair, and the layout of its table; ``benchmarks.runner`` owns the
command line, the seeds, the result records (``benchmarks/results/<study>.json``) and the markdown beside them.
"""
