"""The command line of the studies: ``python -m benchmarks <study> [options]``, ``python -m benchmarks --list``.

Options every study takes: ``--seeds N`` and ``--first-seed S`` (seeds S .. S + N - 1), ``--quick`` (a smoke
run into ``<study>_quick.{json,md}``), ``--report`` (only render the markdown), ``--out`` (another result file,
e.g. for a second process running beside the first) and ``--merge FILE...`` (add those files' records), ``--note``
(a line kept with the results) and ``--data`` (the data folder). A study module provides:

- ``add_arguments(parser)``: its own options; ``SEEDS``: its default number of seeds;
- ``adjust(args)`` (optional): settings of ``--quick``;
- ``plan(args)``: the (configuration, seed) pairs to measure, in order;
- ``measure(config, seed, args)``: the figures of one pair, a dict;
- ``render(results)``: the markdown of its result file;
- ``same_task(a, b)`` (optional): whether configurations ``a`` and ``b`` measure one task (see ``results.add``);
- ``header(args)`` (optional): top-level fields kept with the results;
- ``RESUME = True`` (optional): a run skips the (configuration, seed) pairs already recorded.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from benchmarks import results as store
from benchmarks.studies import STUDIES

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def study_module(name: str):
    return importlib.import_module(f"benchmarks.studies.{name}")


def parser_for(name: str, study) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks {name}", description=study.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=getattr(study, "SEEDS", 1), help="number of seeds")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="run seeds first-seed .. first-seed + seeds - 1 (more seeds add to the records)")
    parser.add_argument("--quick", action="store_true", help=f"smoke run, into {name}_quick.{{json,md}}")
    parser.add_argument("--report", action="store_true", help="only render the markdown from the JSON")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"result JSON (default benchmarks/results/{name}.json; the markdown goes beside it)")
    parser.add_argument("--merge", nargs="+", type=Path, default=[], help="result JSONs whose records are added")
    parser.add_argument("--note", default=None, help="a line kept with the results and shown under the tables")
    parser.add_argument("--data", default=None, help="data folder (default: $KERAS_ONECLASS_DATA)")
    study.add_arguments(parser)
    return parser


def seeds(args) -> range:
    """The seeds of a run: ``--first-seed`` .. ``--first-seed + --seeds - 1``."""
    return range(args.first_seed, args.first_seed + args.seeds)


def result_path(name: str, quick: bool = False) -> Path:
    return store.RESULTS / f"{name}{'_quick' if quick else ''}.json"


def write_markdown(study, path: Path, results: dict) -> Path:
    markdown = path.with_suffix(".md")
    markdown.write_text(study.render(results))
    return markdown


def run(name: str, argv) -> int:
    study = study_module(name)
    args = parser_for(name, study).parse_args(argv)
    if hasattr(study, "adjust"):
        study.adjust(args)
    path = args.out or result_path(name, args.quick)
    same_task = getattr(study, "same_task", None)
    results = store.load(path, name)
    for other in args.merge:
        store.merge(results, store.load(other), same_task)
    if args.note and args.note not in results.get("notes", []):
        results["notes"] = results.get("notes", []) + [args.note]
    if args.merge or args.note:
        store.save(path, results)
    if not args.report:
        from benchmarks.common import machine

        command = " ".join(["python -m benchmarks", name, *argv])
        if command not in results.get("commands", []):
            results["commands"] = results.get("commands", []) + [command]
        results.update(getattr(study, "header", lambda args: {})(args))
        results["machine"] = machine()
        done = {store.record_key(r["config"], r["seed"]) for r in store.current(results)}
        for config, seed in study.plan(args):
            if getattr(study, "RESUME", False) and store.record_key(config, seed) in done:
                continue
            figures = study.measure(config, seed, args)
            store.add(results, {"config": config, "seed": seed, "figures": figures}, same_task)
            print(f"{name} {config} seed {seed}: {brief(figures)}", flush=True)
            store.save(path, results)
            write_markdown(study, path, results)
    print(write_markdown(study, path, results).read_text())
    return 0


def brief(figures: dict) -> dict:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items() if not isinstance(v, (dict, list))}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("--list", "-l", "-h", "--help"):
        if argv[:1] in (["-h"], ["--help"]) or not argv:
            print(__doc__)
        width = max(map(len, STUDIES))
        print("\n".join(f"{name:<{width}}  {summary}" for name, summary in STUDIES.items()))
        return 0
    if argv[0] not in STUDIES:
        print(f"unknown study {argv[0]!r}; one of: {', '.join(STUDIES)}", file=sys.stderr)
        return 2
    return run(argv[0], argv[1:])
