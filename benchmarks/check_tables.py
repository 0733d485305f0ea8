"""Compares the figures of two markdown result tables, figure by figure: ``python -m benchmarks.check_tables``.

Without arguments it renders every study's markdown from its result JSON and compares it with the markdown
stored beside it; ``--against REV`` compares with the markdown files of a git revision instead (the old names
are mapped by ``--renames FILE``, lines ``old new``). A figure is every number in a table row or a sentence; the figures of each line are compared as one, so rows may
change places but no figure may change.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter

from benchmarks import results as store
from benchmarks.runner import study_module
from benchmarks.studies import STUDIES

NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[-+]?\d+)?")


def figures(markdown: str) -> Counter:
    """The numbers of each line of the markdown that has any, as a count of (line start, numbers) pairs: rows may
    move, but every figure of a row must stay. Numbers of a ``Machine:`` line are sorted (a dict's key order)."""
    found = Counter()
    for line in markdown.splitlines():
        numbers = [match.group() for match in NUMBER.finditer(line)]
        if numbers:
            label = line.split("|")[1].strip() if line.startswith("|") else line.split(":")[0][:30]
            found[(label, tuple(sorted(numbers) if line.startswith("Machine:") else numbers))] += 1
    return found


def compare(old: str, new: str) -> list[str]:
    """The lines whose figures differ: '- ' only in the old markdown, '+ ' only in the new; empty when the same."""
    old_figures, new_figures = figures(old), figures(new)
    return ([f"- {label}: {' '.join(numbers)}" for label, numbers in (old_figures - new_figures).elements()]
            + [f"+ {label}: {' '.join(numbers)}" for label, numbers in (new_figures - old_figures).elements()])


def stored(path: str, revision: str | None) -> str:
    if revision is None:
        return (store.RESULTS.parent.parent / path).read_text()
    return subprocess.run(["git", "show", f"{revision}:{path}"], capture_output=True, text=True, check=True).stdout


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", default=None, help="a git revision whose markdown files are the reference")
    parser.add_argument("--renames", default=None,
                        help="old -> new result paths ('old new' a line): the figures of an old markdown file must "
                             "all be in the new one")
    parser.add_argument("studies", nargs="*", default=None)
    args = parser.parse_args(argv)
    rendered, failed = {}, 0
    for name in args.studies or STUDIES:
        json_path = store.RESULTS / f"{name}.json"
        if not json_path.exists():
            continue
        relative = f"benchmarks/results/{name}.md"
        new = rendered[relative] = study_module(name).render(store.load(json_path))
        old = stored(relative, args.against)
        failed += report(name, old, new, compare(old, new))
    for line in open(args.renames) if args.renames else []:
        old_path, new_path = line.split()
        if old_path.endswith(".md") and new_path in rendered:
            old = stored(old_path, args.against)
            missing = [f"- {label}: {' '.join(numbers)}" for label, numbers in (figures(old) - figures(rendered[new_path])).elements()]
            failed += report(f"{old_path} in {new_path}", old, rendered[new_path], missing)
    return int(failed > 0)


def report(name: str, old: str, new: str, differences: list[str]) -> bool:
    count = lambda text: sum(len(numbers) * n for (_, numbers), n in figures(text).items())  # noqa: E731
    print(f"{name}: {count(old)} figures, {count(new)} rendered, "
          f"{'same' if not differences else f'{len(differences)} lines differ'}")
    print("\n".join(f"    {line}" for line in differences[:40]))
    return bool(differences)


if __name__ == "__main__":
    sys.exit(main())
