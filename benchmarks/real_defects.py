"""``python benchmarks/real_defects.py [options]``: the study ``benchmarks/studies/real_defects.py``.

The same as ``python -m benchmarks real_defects``, ending with one line per detector:
``<name> image_roc_auc=<value> images_per_s=<value> dataset=<dataset>``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import results as store  # noqa: E402
from benchmarks import runner  # noqa: E402
from benchmarks.studies import real_defects  # noqa: E402


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    code = runner.run("real_defects", argv)
    args = runner.parser_for("real_defects", real_defects).parse_args(argv)
    real_defects.adjust(args)
    results = store.load(args.out or runner.result_path("real_defects", args.quick), "real_defects")
    print("\n".join(real_defects.summary_lines(results, args.models, args.datasets)))
    return code


if __name__ == "__main__":
    sys.exit(main())
