"""Result files of the studies: measured records keyed by configuration and seed.

A file holds ``{"study": name, "records": [...], "notes": [...], "commands": [...], "machine": {...}}`` and
whatever else its study keeps at the top level. A record is ``{"config": {...}, "seed": int, "figures": {...}}``;
a record of the same configuration and seed replaces the old one, other seeds add up. A study may declare
which configurations measure the same task (``same_task``): a record of another configuration of that task
marks the task's older records ``"superseded": true``, which keeps their figures but leaves them out of the table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

RESULTS = Path(__file__).resolve().parent / "results"


def record_key(config: dict, seed) -> str:
    """The identity of a record: its configuration and seed, as canonical JSON."""
    return json.dumps([config, seed], sort_keys=True)


def config_key(config: dict) -> str:
    """The identity of a configuration (all its seeds)."""
    return json.dumps(config, sort_keys=True)


def load(path: Path, study: str | None = None) -> dict:
    """The results at ``path``; an empty result set when the file does not exist."""
    results = json.loads(Path(path).read_text()) if Path(path).exists() else {}
    if study:
        results.setdefault("study", study)
    results.setdefault("records", [])
    return results


def save(path: Path, results: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    results["records"] = sorted(results["records"], key=lambda r: record_key(r["config"], r["seed"]))
    path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")


def add(results: dict, record: dict, same_task: Callable[[dict, dict], bool] | None = None) -> None:
    """Puts ``record`` into ``results``: it replaces the record of its configuration and seed, and supersedes the
    records of other configurations of the same task (``same_task``)."""
    key = record_key(record["config"], record["seed"])
    kept = []
    for old in results["records"]:
        if record_key(old["config"], old["seed"]) == key:
            continue
        if (same_task and not record.get("superseded") and old["config"] != record["config"]
                and same_task(old["config"], record["config"])):
            old["superseded"] = True
        kept.append(old)
    results["records"] = kept + [record]


def merge(ours: dict, other: dict, same_task=None) -> dict:
    """``other``'s records added to ``ours`` (in place; see ``add``); notes and commands united in order, other
    top-level fields taken from ``other`` where ``ours`` lacks them."""
    for record in other.get("records", []):
        add(ours, dict(record), same_task)
    for field in ("commands", "notes"):
        united = ours.get(field, []) + [x for x in other.get(field, []) if x not in ours.get(field, [])]
        if united:
            ours[field] = united
    for field, value in other.items():
        ours.setdefault(field, value)
    return ours


def current(results: dict) -> list[dict]:
    """The records a table shows: all but the superseded ones."""
    return [r for r in results.get("records", []) if not r.get("superseded")]


def group(records, key: Callable[[dict], object]) -> dict:
    """Records grouped by ``key(config)``, in the order the keys first appear."""
    groups: dict = {}
    for record in records:
        groups.setdefault(key(record["config"]), []).append(record)
    return groups
