"""Every committed benchmark table holds the figures its result JSON renders to, and the runner lists the studies."""

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import check_tables
from benchmarks import results as store
from benchmarks.runner import study_module
from benchmarks.studies import STUDIES

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", [n for n in STUDIES if (store.RESULTS / f"{n}.json").exists()])
def test_committed_markdown_holds_the_rendered_figures(name):
    rendered = study_module(name).render(store.load(store.RESULTS / f"{name}.json"))
    assert check_tables.compare((store.RESULTS / f"{name}.md").read_text(), rendered) == []


def test_a_changed_figure_is_reported():
    old = "| 3 | 91.90 | 88.20 |\nMachine: {'cpus': 2, 'keras': '3.15'}\n"
    assert check_tables.compare(old, "Machine: {'keras': '3.15', 'cpus': 2}\n| 3 | 91.90 | 88.20 |\n") == []
    assert check_tables.compare(old, old.replace("88.20", "88.21")) == ["- 3: 3 91.90 88.20", "+ 3: 3 91.90 88.21"]


def test_the_runner_lists_every_study():
    result = subprocess.run([sys.executable, "-m", "benchmarks", "--list"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()] == list(STUDIES)
