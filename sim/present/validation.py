"""The validation page: every calibration target, reported vs simulated, pass or miss, with reasons.

``docs/validation.md`` is written from what is committed: each calibration job
(``calibration/*.yaml``), its target file (definitions, sources, the notes that explain a miss)
and its results folder (``calibration/results/<job>/targets.csv``, ``meta.json`` and, for targets
held back, ``held-back/<target>/targets.csv``). Nothing is simulated, so the page is rebuilt in
seconds, and a test checks that the committed page equals a rebuild.

Each target category is one row:

* **in-sample**: an outcome fitted by its job (the posterior predictive's median and 90 % interval);
* **held-back**: an outcome left out of a second fit and predicted by it (never used in that fit);
* **compared**: an outcome in a job with nothing to fit (the scenario as written);
* **check**: reported but never fitted (initial conditions, forecasts, plans, surveys);
* **goal**: a programme's aim, never fitted: the probability of reaching it.

A row passes when the reported value lies inside the simulated 90 % interval. A miss is
explained by the target's ``notes`` in its target file (the page says so when a note is missing).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.calibration.fit import Job, load_job

__all__ = ["ValidationRow", "validation_rows", "render", "write_page", "PAGE"]

#: The page, relative to the repository root.
PAGE = Path("docs") / "validation.md"

_ROLES = ("in-sample", "held-back", "compared", "check", "goal", "not run")


@dataclass(frozen=True)
class ValidationRow:
    """One target category of one job, as the page shows it."""

    job: str
    target: str
    category: str
    role: str  # one of _ROLES
    unit: str
    reported: float
    median: float
    q05: float
    q95: float
    p_reach: float  # goals only
    passed: bool | None  # None for goals
    time: str
    reason: str
    source: str


def _job_files(root: Path) -> list[Path]:
    """The calibration jobs of a repository: YAML files directly in ``calibration/`` naming targets."""
    import yaml

    jobs = []
    for path in sorted((root / "calibration").glob("*.yaml")):
        head = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(head, dict) and "targets" in head and "scenarios" in head:
            jobs.append(path)
    return jobs


def _num(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def _rows_of(job: Job, results: Path) -> list[ValidationRow]:
    table = pd.read_csv(results / "targets.csv")
    meta = json.loads((results / "meta.json").read_text())
    # a job with nothing to fit still lists its outcomes as "fitted_targets"; only a fit has generations
    fitted = set(meta.get("fitted_targets", [])) if meta.get("generations") else set()
    targets = {t.name: t for t in job.targets.targets}
    rows: list[ValidationRow] = []

    def add(r: pd.Series, role: str, prefix: str) -> None:
        t = targets[r["target"]]
        median, q05, q95 = (_num(r.get(f"{prefix}_{k}")) for k in ("median", "q05", "q95"))
        reported = _num(r["reported"])
        if role == "goal":
            passed = None
        else:
            passed = bool(math.isfinite(median) and q05 <= reported <= q95)
        reason = t.notes if (passed is False or role in ("check", "goal", "compared")) else ""
        if passed is False and not reason:
            reason = "No reason written: the target file has no notes for this target."
        rows.append(ValidationRow(job.name, t.name, "" if r["category"] in ("share", "value") else str(r["category"]),
                                  role, str(r["unit"]), reported, median, q05, q95,
                                  _num(r.get(f"{prefix}_p_reach")), passed,
                                  "" if pd.isna(r.get("time")) else str(r["time"]), " ".join(reason.split()),
                                  t.source))

    for _, r in table.iterrows():
        kind = r["kind"]
        has_post = math.isfinite(_num(r.get("post_median")))
        prefix = "post" if has_post else "written"
        if kind == "goal":
            add(r, "goal", prefix)
        elif kind == "check":
            add(r, "check", prefix)
        elif r["target"] in fitted:
            add(r, "in-sample", prefix)
        else:
            add(r, "compared", prefix)
    for name in (t for t in targets if t not in set(table["target"])):
        t = targets[name]
        rows.append(ValidationRow(job.name, name, "", "not run", "", _num(t.value) if not isinstance(t.value, dict)
                                  else math.nan, math.nan, math.nan, math.nan, math.nan, None, t.time or "",
                                  "In the target file but not in the committed results: run the job again.",
                                  t.source))
    for name in job.held_back:
        folder = results / "held-back" / name
        if not (folder / "targets.csv").is_file():
            continue
        held = pd.read_csv(folder / "targets.csv")
        for _, r in held[held["target"] == name].iterrows():
            add(r, "held-back", "post")
    return rows


def validation_rows(root: str | Path = ".") -> tuple[list[tuple[Job, dict[str, Any]]], list[ValidationRow]]:
    """Every job with committed results, and the page's rows (jobs without results are skipped)."""
    root = Path(root)
    jobs, rows = [], []
    for path in _job_files(root):
        job = load_job(path)
        results = root / "calibration" / "results" / job.name
        if not (results / "targets.csv").is_file():
            continue
        meta = json.loads((results / "meta.json").read_text())
        meta["held_back_written"] = {
            name: str(json.loads((results / "held-back" / name / "meta.json").read_text()).get("created_utc", ""))[:10]
            for name in job.held_back if (results / "held-back" / name / "meta.json").is_file()}
        jobs.append((job, meta))
        rows.extend(_rows_of(job, results))
    return jobs, rows


def _fmt(x: float, unit: str) -> str:
    if not math.isfinite(x):
        return "–"
    if unit.startswith("share"):
        return f"{x:.1f} %"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(jobs: list[tuple[Job, dict[str, Any]]], rows: list[ValidationRow]) -> str:
    """The page as Markdown."""
    scored = [r for r in rows if r.passed is not None]
    lines = [
        "# Validation: every calibration target, reported vs simulated",
        "",
        "<!-- Written by `almsim validation` from the committed calibration/results/*/; do not edit by hand. -->",
        "",
        "Every number a calibration job compares the model with, from the committed results of the jobs",
        "in `calibration/` (`almsim calibrate calibration/JOB.yaml` writes them; `almsim validation`",
        "rewrites this page from them without simulating). *Simulated* is the median and 90 % interval of",
        "the posterior predictive for fitted jobs and of the scenario as written for jobs with nothing to",
        "fit. A target **passes** when the reported value lies inside that interval; every miss carries",
        "the reason written in its target file. Roles: *in-sample* (an outcome the job fitted),",
        "*held-back* (an outcome left out of a second fit and predicted by it), *compared* (an outcome in",
        "a job with nothing to fit), *check* (never fitted: initial conditions, forecasts, plans,",
        "surveys), *goal* (a programme's aim, never fitted: the probability that it was reached).",
        "",
        "## Summary",
        "",
        "| job | fitted | results of | in-sample | held-back | compared | checks | goals | not run |",
        "|---|:---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for job, meta in jobs:
        mine = [r for r in rows if r.job == job.name]

        def score(role: str, mine: list[ValidationRow] = mine) -> str:
            sel = [r for r in mine if r.role == role]
            if not sel:
                return "–"
            if role in ("goal", "not run"):
                return str(len(sel))
            return f"{sum(bool(r.passed) for r in sel)} / {len(sel)}"

        fitted = "yes" if meta.get("fitted_targets") and meta.get("generations") else "no"
        lines.append(f"| [{job.name}](#{job.name}) | {fitted} | {str(meta.get('created_utc', ''))[:10]} | "
                     + " | ".join(score(role) for role in _ROLES) + " |")
    passed = sum(bool(r.passed) for r in scored)
    lines += ["", f"In all: {passed} of {len(scored)} reported numbers inside the simulated 90 % interval, "
              f"{len(scored) - passed} outside (each explained below); "
              f"{sum(r.role == 'goal' for r in rows)} goals reported as probabilities.", ""]
    for job, meta in jobs:
        mine = [r for r in rows if r.job == job.name]
        lines += [f"## {job.name} {{#{job.name}}}", "", f"{job.title}. Job `calibration/{Path(job.file).name}`, "
                  f"results `calibration/results/{job.name}/` (written {str(meta.get('created_utc', ''))[:10]}, "
                  f"code {meta.get('code_version', 'unknown')})"
                  + "".join(f"; held-back fit without `{n}` written {d}" for n, d in meta["held_back_written"].items())
                  + ".", ""]
        lines += ["| target | role | reported | simulated median [90 %] | result | time |",
                  "|---|---|---:|---:|:---:|---|"]
        for r in mine:
            name = f"`{r.target}`" + (f" {r.category}" if r.category else "")
            if r.role == "not run":
                sim, result, reported = "–", "not run", "–"
            elif r.role == "goal":
                sim = f"{_fmt(r.median, r.unit)} [{_fmt(r.q05, r.unit)}, {_fmt(r.q95, r.unit)}]"
                result = f"P(reached) = {r.p_reach:.2f}" if math.isfinite(r.p_reach) else "–"
                reported = f"aim {_fmt(r.reported, r.unit)}"
            else:
                sim = f"{_fmt(r.median, r.unit)} [{_fmt(r.q05, r.unit)}, {_fmt(r.q95, r.unit)}]"
                result = "pass" if r.passed else "**miss**"
                reported = _fmt(r.reported, r.unit)
            lines.append(f"| {name} | {r.role} | {reported} | {sim} | {result} | {_cell(r.time)} |")
        lines.append("")
        explained = {}
        for r in mine:
            if r.reason and r.target not in explained and (r.passed is False
                                                           or r.role in ("check", "compared", "goal", "not run")):
                explained[r.target] = r
        misses = [r for r in mine if r.passed is False]
        if misses:
            lines += ["**Misses, and why.**", ""]
            seen = set()
            for r in misses:
                if (r.target, r.role) in seen:
                    continue
                seen.add((r.target, r.role))
                cats = [m.category for m in misses if m.target == r.target and m.role == r.role and m.category]
                what = f"`{r.target}`" + (f" ({', '.join(cats)})" if cats else "") + f", {r.role}"
                lines.append(f"- {what}: {_cell(r.reason)}")
            lines.append("")
        others = [r for t, r in explained.items() if not any(m.target == t for m in misses)]
        if others:
            lines += ["**Notes on checks, comparisons and goals.**", ""]
            lines += [f"- `{r.target}`: {_cell(r.reason)}" for r in others]
            lines.append("")
        if job.notes:
            lines += ["**About the job.** " + " ".join(job.notes.split()), ""]
        lines += ["Sources: " + "; ".join(f"`{t.name}`: {t.source}" for t in job.targets.targets if t.source) + ".",
                  ""]
    return "\n".join(lines).rstrip() + "\n"


def write_page(root: str | Path = ".", out: str | Path | None = None) -> Path:
    """Rebuild the validation page from the committed results under ``root``; return its path."""
    root = Path(root)
    path = Path(out) if out is not None else root / PAGE
    text = render(*validation_rows(root))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
