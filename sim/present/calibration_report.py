"""The fit report: every target, reported vs simulated median and 90 % interval, and the files behind it.

:func:`write_results` writes a calibration's folder (``calibration/results/<name>/``):
``posterior.parquet``, ``population.parquet``, ``generations.csv``, ``predictive.parquet``,
``targets.csv`` (the table below), ``meta.json``, ``fit.png``, ``posterior.png`` and
``fit_report.md``. Files are written to temporary names and renamed, so a crash never leaves
a half-written file.

Intervals are 5 % and 95 % quantiles of the **posterior predictive**: one simulation per
posterior draw, each with its own seed, so they carry both parameter uncertainty and the
chance a cohort of this size is subject to. Count targets are compared as shares of their N.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.calibration.targets import Target, deviance

if TYPE_CHECKING:
    from sim.calibration.fit import FitResult, Job
    from sim.calibration.sensitivity import SensitivityResult

__all__ = ["target_summary", "write_results", "rewrite_report", "render_report", "held_back_summary",
           "save_sensitivity"]

Q = (0.05, 0.5, 0.95)


def _atomic_write(path: Path, data: bytes | str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


def _unit(t: Target) -> str:
    return t.unit or "value" if t.likelihood == "normal" else "share (%)"


def _scale(t: Target) -> float:
    return 100.0 if t.likelihood != "normal" else 1.0


def target_summary(job: Job, predictive: pd.DataFrame) -> pd.DataFrame:
    """One row per target category: reported, simulated quantiles per source, inside, PIT.

    Shares are in percent. ``inside`` is whether the reported value lies in the posterior's
    (or, without a posterior, the as-written) 90 % interval; ``pit`` is the share of
    simulations below the reported value (ties count half): near 0 or 1 means a poor fit.
    For goals, ``p_reach`` is the probability that the share reaches the goal.
    """
    rows = []
    groups = _groups(predictive)
    for t in job.targets.targets:
        dev = _median_deviance(t, groups)
        obs = t.observed() if t.kind != "goal" else np.array([float(t.value)])
        for c, reported in zip(t.categories, obs, strict=True):
            row: dict[str, Any] = {
                "target": t.name, "kind": t.kind, "category": c, "likelihood": t.likelihood,
                "label": t.name if c in ("share", "value") else f"{t.name}: {c}",
                "unit": _unit(t), "reported": reported * _scale(t), "n": t.n,
                "reported_count": (reported * t.n) if t.n and t.kind != "goal" else np.nan,
                "time": t.time, "fitted": False, "deviance": dev,
            }
            for src, prefix in (("posterior", "post"), ("as_written", "written")):
                g = groups.get((src, t.name))
                v = g.values[g.categories == c] * _scale(t) if g is not None else np.empty(0)
                v = v[np.isfinite(v)]
                if v.size:
                    q = np.quantile(v, Q)
                    row[f"{prefix}_q05"], row[f"{prefix}_median"], row[f"{prefix}_q95"] = q
                    r = reported * _scale(t)
                    row[f"{prefix}_pit"] = float(np.mean(v < r) + 0.5 * np.mean(v == r))
                    if t.kind == "goal":
                        row[f"{prefix}_p_reach"] = float(np.mean(v >= r - 1e-9))
                else:
                    row[f"{prefix}_q05"] = row[f"{prefix}_median"] = row[f"{prefix}_q95"] = np.nan
            src = "post" if not np.isnan(row.get("post_median", np.nan)) else "written"
            row["inside"] = bool(row[f"{src}_q05"] <= row["reported"] <= row[f"{src}_q95"]) \
                if np.isfinite(row[f"{src}_median"]) else False
            rows.append(row)
    return pd.DataFrame(rows)


class _Group:
    """The predictive's rows of one source and target, as arrays (in the table's order)."""

    def __init__(self, df: pd.DataFrame) -> None:
        self.draws = df["draw"].to_numpy()
        self.categories = df["category"].to_numpy(object)
        self.values = df["value"].to_numpy(float)
        self.trials = df["trials"].to_numpy(float)


def _groups(predictive: pd.DataFrame) -> dict[tuple[str, str], _Group]:
    """The predictive split once by (source, target): the summary looks each up many times."""
    return {(str(src), str(name)): _Group(df)
            for (src, name), df in predictive.groupby(["source", "target"], sort=False)}


def _median_deviance(t: Target, groups: Mapping[tuple[str, str], _Group]) -> float:
    """Median over posterior draws (else as-written runs) of the target's deviance."""
    if t.kind == "goal":
        return np.nan
    column = {c: j for j, c in enumerate(t.categories)}
    for src in ("posterior", "as_written"):
        g = groups.get((src, t.name))
        if g is None or not len(g.draws):
            continue
        draws, first = np.unique(g.draws, return_index=True)  # sorted; first row of each draw
        table = np.full((len(draws), len(t.categories)), np.nan)  # draw x category (others dropped)
        row = np.searchsorted(draws, g.draws)
        for i, (c, x) in enumerate(zip(g.categories, g.values, strict=True)):
            j = column.get(c)
            if j is not None:
                table[row[i], j] = x
        devs = []
        for v, trials in zip(table, g.trials[first], strict=True):
            trials = float(trials)
            if t.likelihood == "normal":
                sim = v
            elif t.likelihood == "binomial":
                sim = np.array([v[0] * trials, trials])
            else:
                sim = v * trials
            if np.all(np.isfinite(sim)):
                devs.append(deviance(t, sim))
        return float(np.median(devs)) if devs else np.nan
    return np.nan


def held_back_summary(folder: Path) -> list[dict[str, Any]]:
    """The left-out targets' rows of each held-back fit under ``folder/held-back/``."""
    out = []
    root = folder / "held-back"
    if not root.is_dir():
        return out
    for sub in sorted(root.iterdir()):
        meta_file, table = sub / "meta.json", sub / "targets.csv"
        if not (meta_file.is_file() and table.is_file()):
            continue
        meta = json.loads(meta_file.read_text())
        df = pd.read_csv(table)
        for _, r in df[df["target"].isin(meta.get("leave_out", []))].iterrows():
            out.append({"left_out": r["target"], **r.to_dict(), "folder": sub.name})
    return out


def _fmt(x: Any, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    return f"{x:,.{digits}f}"


def _interval(r: Mapping[str, Any], prefix: str, digits: int = 1) -> str:
    if not np.isfinite(r.get(f"{prefix}_median", np.nan)):
        return "–"
    med, lo, hi = (_fmt(r[f"{prefix}_{k}"], digits) for k in ("median", "q05", "q95"))
    return f"{med} [{lo}, {hi}]"


def _reported(r: Mapping[str, Any]) -> str:
    if r["unit"] == "share (%)" and r["kind"] != "goal" and np.isfinite(r.get("reported_count", np.nan)):
        return f"{_fmt(r['reported'])} ({r['reported_count']:.0f} of {int(r['n'])})"
    return _fmt(r["reported"], 1 if r["unit"] == "share (%)" else 2)


def render_report(result: FitResult, summary: pd.DataFrame) -> str:
    """The fit report as Markdown."""
    import pyarrow  # noqa: F401 - only to be sure the parquet files beside the report can be read

    job, meta = result.job, result.meta
    title = job.title or job.name
    lines = [f"# Fit report: {title}", ""]
    lines += [f"Job `{Path(job.file).name}` (`{job.name}`), targets `{Path(job.targets.file).name}`, "
              f"space `{Path(job.space.file).name if job.space.file else '-'}`. Written by "
              f"`almsim calibrate` on {meta['created_utc'][:10]}; {meta['workers']} worker(s); "
              f"{meta['total_seconds']:.0f} s in all. Code {meta.get('code_version', '?')}.", ""]
    if result.leave_out:
        lines += [f"**Held-back fit**: fitted without {', '.join(f'`{x}`' for x in result.leave_out)}, "
                  "to see how well the model predicts it.", ""]
    lines += ["## Method", ""]
    if result.population is not None:
        g = result.generations
        m = job.method
        lines += [
            "ABC-SMC (pyabc) with the binomial/multinomial **deviance** of the fitted targets as the distance "
            "(`sim.calibration.targets.deviance`: twice the log-likelihood ratio of the reported counts under the "
            "simulated "
            "shares; 0 is a perfect match). One simulation per particle, each with its own seed; the tolerance "
            f"of each generation is the {m['epsilon_quantile']:.0%} quantile of the last one's distances. "
            f"Population {m['population_size']}, {len(g)} generations, {meta['simulations']:,} simulations in "
            f"{meta['fit_seconds']:.0f} s; final tolerance {g['epsilon'].iloc[-1]:.1f}. The fitted targets have "
            f"{_degrees(job, result)} degrees of freedom; with a correct model a deviance of about twice that "
            f"({2 * _degrees(job, result)}) is as close as chance allows (the reported counts and each simulated "
            "cohort both vary by chance). The column *deviance* in the target table shows which targets "
            "take up the rest.", "",
            "| generation | tolerance | simulations | acceptance |", "|---:|---:|---:|---:|"]
        for _, r in g.iterrows():
            lines.append(f"| {int(r.t)} | {r.epsilon:,.1f} | {int(r.simulations):,} | {r.acceptance:.2f} |")
        lines += ["", f"Fitted targets: {', '.join(f'`{t}`' for t in meta['fitted_targets'])}.", ""]
    else:
        lines += ["Nothing is fitted in this job: the targets are checks, goals, or outcomes with no calibrated "
                  "parameter here. The table compares them with the scenario as written "
                  f"({job.method['as_written_replications']} replications).", ""]
    if result.population is not None:
        lines += ["## Calibrated parameters", "",
                  "| parameter | sets | prior | as written | posterior median | 90 % interval |",
                  "|---|---|---|---:|---:|---:|"]
        w = result.population["weight"].to_numpy(float)
        for p in job.space.parameters:
            x = result.population[p.name].to_numpy(float)
            q = _weighted_quantiles(x, w, Q)
            written = 1.0 if p.transform == "scale" else _as_written(job, p.paths[0])
            sets = "<br>".join(f"`{s}`" for s in p.paths) + (" (× factor)" if p.transform == "scale" else "")
            lines.append(f"| `{p.name}` | {sets} | {p.prior.distribution} {p.prior.low:g}–{p.prior.high:g} | "
                         f"{_fmt(written, 3)} | {_fmt(q[1], 3)} | {_fmt(q[0], 3)}–{_fmt(q[2], 3)} |")
        lines += [""]
        for p in job.space.parameters:
            if p.why:
                lines.append(f"- `{p.name}`: {p.why}")
        lines += ["", "![posterior](posterior.png)", ""]
    lines += _target_lines(summary, result.population is not None)
    goals = summary[summary["kind"] == "goal"]
    if len(goals):
        lines += ["## Goals (never fitted)", "",
                  "The probability of reaching each goal is the share of simulations in which the share reached "
                  "is at least the aim.", "",
                  "| goal | aim | P(reached), posterior | share reached (%), posterior | P(reached), as written | "
                  "share reached (%), as written |",
                  "|---|---:|---:|---:|---:|---:|"]
        for _, r in goals.iterrows():
            lines.append(f"| `{r['target']}` | {_fmt(r['reported'], 0)} % | {_fmt(r.get('post_p_reach', np.nan), 2)} | "
                         f"{_interval(r, 'post')} | {_fmt(r.get('written_p_reach', np.nan), 2)} | "
                         f"{_interval(r, 'written')} |")
        lines += [""]
    held = held_back_summary(result.folder) if not result.leave_out else []
    if held:
        lines += ["## Held-back check", "",
                  "Each held-back fit leaves one outcome target out, fits the rest with the same settings, and "
                  "predicts the left-out one (posterior predictive, one run per draw).", "",
                  "| left out | reported | predicted median [90 %] | inside | PIT |", "|---|---:|---:|:---:|---:|"]
        for r in held:
            lines.append(f"| {r['label']} | {_reported(r)} | {_interval(r, 'post')} | "
                         f"{'yes' if r['inside'] else '**no**'} | {_fmt(r.get('post_pit', np.nan), 2)} |")
        lines += ["", "Details: `held-back/<target>/fit_report.md`.", ""]
    lines += _gap_lines(job, summary)
    return "\n".join(lines) + "\n"


def _degrees(job: Job, result: FitResult) -> int:
    k = 0
    for name in result.meta["fitted_targets"]:
        t = job.targets.get(name)
        k += len(t.categories) - 1 if t.likelihood == "multinomial" else 1
    return k


def _target_lines(summary: pd.DataFrame, has_posterior: bool) -> list[str]:
    if (summary["kind"] == "goal").all():
        return ["## Targets", "", "Only goals (below): nothing reported to compare with.", "",
                "![fit](fit.png)", ""]
    lines = ["## Targets", "",
             "Shares in % of the reported N; intervals are 5–95 % of the simulations. "
             "*inside*: the reported value lies in the "
             + ("posterior" if has_posterior else "as-written") + " 90 % interval. "
             "PIT: share of simulations below the reported value (near 0 or 1: a poor fit). *deviance*: "
             "median over the simulations of the target's deviance (binomial: about 2 by chance alone; "
             "multinomial: about 2 per category beyond the first).", "",
             "| target | kind | reported | posterior median [90 %] | inside | PIT | as written median [90 %] | "
             "deviance | time |",
             "|---|---|---:|---:|:---:|---:|---:|---:|---|"]
    seen: set[str] = set()
    for _, r in summary[summary["kind"] != "goal"].iterrows():
        pit = r.get("post_pit" if has_posterior else "written_pit", np.nan)
        dev = "" if r["target"] in seen else _fmt(r.get("deviance", np.nan))
        seen.add(r["target"])
        lines.append(f"| {r['label']} | {r['kind']} | {_reported(r)} | {_interval(r, 'post')} | "
                     f"{'yes' if r['inside'] else '**no**'} | {_fmt(pit, 2)} | {_interval(r, 'written')} | "
                     f"{dev} | {r['time'] or ''} |")
    return lines + ["", "![fit](fit.png)", ""]


def _gap_lines(job: Job, summary: pd.DataFrame) -> list[str]:
    lines = ["## What fits, what does not, and why", ""]
    outside = summary[(summary["kind"] != "goal") & ~summary["inside"]]
    if (summary["kind"] == "goal").all():
        lines.append("Only goals: they are never fitted, and the table above gives the chance of reaching each.")
    elif outside.empty:
        lines.append("Every target lies inside its 90 % interval.")
    else:
        lines.append("Outside the 90 % interval: " + ", ".join(f"`{x}`" for x in outside["label"]) + ".")
    lines.append("")
    if job.notes:
        lines += [job.notes, ""]
    for t in job.targets.targets:
        if t.notes:
            lines.append(f"- `{t.name}`: {t.notes}")
    lines += ["", "## Targets: definitions and sources", ""]
    for t in job.targets.targets:
        lines.append(f"- `{t.name}` ({t.kind}, {t.likelihood}{', N = ' + str(t.n) if t.n else ''}"
                     f"{', at ' + t.time if t.time else ''}): {t.definition} Source: {t.source}")
    return lines


def _weighted_quantiles(x: np.ndarray, w: np.ndarray, q: tuple[float, ...]) -> np.ndarray:
    order = np.argsort(x)
    x, w = x[order], w[order]
    cum = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(q, cum, x)


def _as_written(job: Job, path: str) -> float:
    from sim.scenario.paths import get_value

    for spec in job.scenarios.values():
        try:
            return get_value(spec.doc, path)
        except (KeyError, TypeError):
            continue
    return float("nan")


#: The files a fit writes in its folder (anything else there, such as ``held-back/``, is kept).
RESULT_FILES = ("posterior.parquet", "population.parquet", "generations.csv", "posterior.png", "predictive.parquet",
                "targets.csv", "meta.json", "fit.png", "fit_report.md")


def write_results(result: FitResult) -> Path:
    """Write the results folder of a fit and return it: all or nothing (built in a temporary
    sibling with what else the folder holds, such as its held-back fits, and renamed into place)."""
    from sim.runs.results import atomic_dir

    folder = result.folder
    with atomic_dir(folder) as out:
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.name not in RESULT_FILES and not entry.name.startswith("."):
                    (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, out / entry.name)
        _write_into(result, out)
    return folder


def _write_into(result: FitResult, folder: Path) -> None:
    from sim.present.calibration_figures import fit_figure, posterior_figure

    job = result.job
    summary = target_summary(job, result.predictive)
    summary["fitted"] = summary["target"].isin(result.meta["fitted_targets"])

    def parquet(df: pd.DataFrame, name: str) -> None:
        tmp = folder / f".{name}.tmp-{os.getpid()}"
        df.to_parquet(tmp, index=False)
        os.replace(tmp, folder / name)

    if result.posterior is not None:
        parquet(result.posterior, "posterior.parquet")
        parquet(result.population, "population.parquet")
        _atomic_write(folder / "generations.csv", result.generations.to_csv(index=False))
        priors = {p.name: (p.prior.low, p.prior.high, p.prior.distribution) for p in job.space.parameters}
        written = {p.name: 1.0 if p.transform == "scale" else _as_written(job, p.paths[0])
                   for p in job.space.parameters}
        fig = posterior_figure(result.population, priors, written)
        fig.savefig(folder / ".posterior.png.tmp", format="png")
        os.replace(folder / ".posterior.png.tmp", folder / "posterior.png")
    parquet(result.predictive, "predictive.parquet")
    _atomic_write(folder / "targets.csv", summary.to_csv(index=False, float_format="%.6g"))
    _atomic_write(folder / "meta.json", json.dumps(result.meta, indent=2, sort_keys=True, default=str) + "\n")
    fig = fit_figure(summary[summary["kind"] != "goal"] if (summary["kind"] != "goal").any() else summary,
                     title=f"{job.title or job.name}: reported vs simulated")
    fig.savefig(folder / ".fit.png.tmp", format="png")
    os.replace(folder / ".fit.png.tmp", folder / "fit.png")
    _atomic_write(folder / "fit_report.md", render_report(result, summary))


def rewrite_report(result: FitResult) -> None:
    """Render ``fit_report.md`` again (e.g. once held-back fits have finished)."""
    summary = target_summary(result.job, result.predictive)
    summary["fitted"] = summary["target"].isin(result.meta["fitted_targets"])
    _atomic_write(result.folder / "fit_report.md", render_report(result, summary))


def save_sensitivity(result: SensitivityResult, folder: str | Path) -> list[Path]:
    """Write ``sensitivity.csv``, ``design.parquet`` and ``sensitivity.png`` to ``folder``."""
    from sim.present.calibration_figures import sensitivity_figure

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "sensitivity.csv", folder / "design.parquet", folder / "sensitivity.png"]
    result.table.to_csv(paths[0], index=False, float_format="%.6g")
    result.design.to_parquet(paths[1], index=False)
    fig = sensitivity_figure(result.table, result.output, result.method)
    fig.savefig(paths[2], format="png")
    return paths

