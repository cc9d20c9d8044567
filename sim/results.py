"""A run's results as tidy tables, its headline numbers, and atomic saving.

``RunResult`` holds pandas tables (one row per observation, long format):

* ``stocks``: month, stage, people;
* ``flows``: month, from_stage, to_stage, people;
* ``events``: month, person, from_stage, to_stage, programme (person-level log);
* ``queues``: month, programme, waiting, participants, capacity, starts, budget_spent_sek;
* ``exits``: month, programme, reason, people;
* ``follow_ups``: month, programme, months_after_exit, stage, people;
* ``status``: date, programme, stage, people (dated follow-ups of participants);
* ``ledger``: month, payer, category, sek (signed: negative = the payer pays);
* ``people``: person, arrival_month, age_at_arrival, sex, household, children, foreign_born,
  sfi, rehab_need, education, months_on_assistance_at_entry, initial_stage;
* ``tracked_state`` / ``tracked_money`` (only for people followed with ``track=``): each
  month's stage and clocks, and each month's postings per payer and category;

plus ``summary`` (headline numbers) and ``manifest`` (what produced it). ``save`` writes a
folder through a temporary sibling and one rename, so a reader never sees half a run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.params import format_month
from sim.stages import STAGES, Stage

if TYPE_CHECKING:
    from sim.model import ProgrammeModel

__all__ = ["RunResult", "atomic_dir", "TABLES"]

TABLES = ("stocks", "flows", "events", "queues", "exits", "follow_ups", "status", "ledger", "people",
          "tracked_state", "tracked_money")
_NS = len(Stage)
_LABELS = np.array([s.label for s in Stage], dtype=object)
_SELF_SUPPORTING = (Stage.WORK, Stage.STUDIES)


@dataclass
class RunResult:
    """Tables and headline numbers of one run."""

    scenario: str
    seed: int
    start_month: int
    horizon_months: int
    programmes: list[str]
    tables: dict[str, pd.DataFrame]
    summary: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_model(cls, model: ProgrammeModel) -> RunResult:
        """Collect the tables of a finished (or partly run) model."""
        rec = model.rec
        names = [p.name for p in model.spec.programmes]
        start = model.start
        months = len(rec.stocks)
        month_labels = np.array([format_month(start + t) for t in range(max(months, 1))], dtype=object)

        stock_arr = np.array(rec.stocks, dtype=np.int64).reshape(months, _NS)[:, : len(STAGES)]
        stocks = pd.DataFrame({
            "month": np.repeat(month_labels[:months], len(STAGES)),
            "stage": np.tile(_LABELS[: len(STAGES)], months),
            "people": stock_arr.reshape(-1),
        })
        rows = []
        for t, flow in sorted(rec.flows.items()):
            nz = np.flatnonzero(flow)
            rows.append(pd.DataFrame({"month": month_labels[t], "from_stage": _LABELS[nz // _NS],
                                      "to_stage": _LABELS[nz % _NS], "people": flow[nz]}))
        flows = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
            {"month": [], "from_stage": [], "to_stage": [], "people": []})
        if rec.events:
            t = np.concatenate([np.full(e[1].size, e[0], np.int32) for e in rec.events])
            prog = np.concatenate([e[4] for e in rec.events])
            events = pd.DataFrame({
                "month": month_labels[t],
                "person": np.concatenate([e[1] for e in rec.events]),
                "from_stage": _LABELS[np.concatenate([e[2] for e in rec.events])],
                "to_stage": _LABELS[np.concatenate([e[3] for e in rec.events])],
                "programme": np.where(prog >= 0, np.array(names + [""], dtype=object)[prog], ""),
            })
        else:
            events = pd.DataFrame({"month": [], "person": [], "from_stage": [], "to_stage": [], "programme": []})
        q = np.array(rec.queues, dtype=np.float64).reshape(-1, 6)
        queues = pd.DataFrame({
            "month": month_labels[q[:, 0].astype(int)] if len(q) else [],
            "programme": [names[int(i)] for i in q[:, 1]],
            "waiting": q[:, 2].astype(np.int64), "participants": q[:, 3].astype(np.int64),
            "capacity": q[:, 4].astype(np.int64),
            "starts": [rec.starts.get((int(a), int(b)), 0) for a, b in q[:, :2]],
            "budget_spent_sek": q[:, 5],
        })
        exits = pd.DataFrame(
            [(month_labels[t], names[p], r, n) for (t, p, r), n in sorted(rec.exits.items())],
            columns=["month", "programme", "reason", "people"])
        fu = [(month_labels[t], names[p], k, _LABELS[s], int(row[s]))
              for t, p, k, row in rec.follow_ups for s in np.flatnonzero(row)]
        follow_ups = pd.DataFrame(fu, columns=["month", "programme", "months_after_exit", "stage", "people"])
        st = [(format_month(d), names[p], _LABELS[s], int(row[s]))
              for d, p, row in rec.status_rows for s in np.flatnonzero(row)]
        status = pd.DataFrame(st, columns=["date", "programme", "stage", "people"])
        ledger = pd.DataFrame(
            [(month_labels[t], payer, cat, amount) for t, totals in rec.ledger
             for (payer, cat), amount in sorted(totals.items()) if amount != 0.0],
            columns=["month", "payer", "category", "sek"])
        tables = {"stocks": stocks, "flows": flows, "events": events, "queues": queues, "exits": exits,
                  "follow_ups": follow_ups, "status": status, "ledger": ledger, "people": _people(model)}
        if model.track.size:
            tables["tracked_state"], tables["tracked_money"] = _tracked(rec, month_labels, names)
        result = cls(scenario=model.spec.name, seed=model.seed, start_month=start,
                     horizon_months=model.horizon, programmes=names, tables=tables)
        result.summary = _summary(model, result)
        return result

    # ------------------------------------------------------------------ saving
    def save(self, path: str | Path) -> Path:
        """Write the run to ``path`` (a folder) atomically; returns the path."""
        path = Path(path)
        with atomic_dir(path) as tmp:
            for name, df in self.tables.items():
                df.to_parquet(tmp / f"{name}.parquet", index=False)
            (tmp / "summary.json").write_text(json.dumps(self.summary, indent=2, sort_keys=True) + "\n")
            (tmp / "manifest.json").write_text(json.dumps(self.manifest, indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> RunResult:
        """Read a run written by :meth:`save`."""
        path = Path(path)
        manifest = json.loads((path / "manifest.json").read_text())
        summary = json.loads((path / "summary.json").read_text())
        tables = {name: pd.read_parquet(path / f"{name}.parquet") for name in TABLES
                  if (path / f"{name}.parquet").exists()}
        return cls(scenario=manifest.get("scenario", ""), seed=manifest.get("seed", 0),
                   start_month=summary.get("start_month_index", 0),
                   horizon_months=summary.get("horizon_months", 0),
                   programmes=summary.get("programmes", []), tables=tables, summary=summary,
                   manifest=manifest)


class atomic_dir:  # noqa: N801 - used as a context manager, reads like a function
    """Build a folder in a temporary sibling and rename it into place on success.

    On an exception the temporary folder is removed and ``path`` is left as it was. An
    existing ``path`` is replaced only after the new one is complete.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.tmp-", dir=self.path.parent))
        return self.tmp

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        for f in self.tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        old = None
        if self.path.exists():
            old = self.path.parent / f".{self.path.name}.old-{os.getpid()}"
            os.rename(self.path, old)
        os.rename(self.tmp, self.path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _people(model: ProgrammeModel) -> pd.DataFrame:
    """Who each person is (attributes fixed at entry)."""
    from sim.population import EDUCATION_CODES, HOUSEHOLD_CODES

    pop = model.pop
    hh = np.array(list(HOUSEHOLD_CODES), dtype=object)
    ed = np.array(list(EDUCATION_CODES), dtype=object)
    return pd.DataFrame({
        "person": np.arange(len(pop)),
        "arrival_month": [format_month(int(m)) for m in pop.arrival_month],
        "age_at_arrival": (pop.arrival_month - pop.birth_month) // 12,
        "sex": np.where(pop.female, "female", "male"),
        "household": hh[pop.household], "children": pop.children,
        "foreign_born": pop.foreign_born, "sfi": pop.sfi, "rehab_need": pop.rehab_need,
        "education": ed[pop.education],
        "months_on_assistance_at_entry": pop.months_on_assistance_at_entry,
        "initial_stage": _LABELS[pop.initial_stage],
    })


def _tracked(rec: object, month_labels: np.ndarray, names: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    states = []
    for row in rec.tracked_state:  # type: ignore[attr-defined]
        d = {k: v for k, v in row.items() if k != "t"}
        df = pd.DataFrame(d)
        df.insert(0, "month", month_labels[row["t"]])
        df["stage"] = _LABELS[df["stage"].to_numpy()]
        prog = df["programme"].to_numpy()
        df["programme"] = np.where(prog >= 0, np.array(names + [""], dtype=object)[prog], "")
        states.append(df)
    money = [(month_labels[t], int(p), payer, cat, float(v[i]))
             for t, ids, postings in rec.tracked_money  # type: ignore[attr-defined]
             for (payer, cat), v in sorted(postings.items()) for i, p in enumerate(ids) if v[i] != 0.0]
    return (pd.concat(states, ignore_index=True) if states else pd.DataFrame(),
            pd.DataFrame(money, columns=["month", "person", "payer", "category", "sek"]))


def _share_at(stocks: pd.DataFrame, month_label: str, stages: tuple[Stage, ...], people: int) -> float | None:
    if people == 0:
        return None
    rows = stocks[(stocks["month"] == month_label) & stocks["stage"].isin([s.label for s in stages])]
    if rows.empty:
        return None
    return float(rows["people"].sum()) / people


def _summary(model: ProgrammeModel, result: RunResult) -> dict[str, Any]:
    """Headline numbers of a run (plain JSON types)."""
    pop = model.pop
    arrived = int((pop.stage != Stage.NOT_ARRIVED).sum())
    stocks = result.tables["stocks"]
    work = stocks[stocks["stage"] == "work"]["people"].to_numpy()
    out: dict[str, Any] = {
        "scenario": model.spec.name,
        "seed": model.seed,
        "start_month": format_month(model.start),
        "start_month_index": model.start,
        "horizon_months": model.horizon,
        "months_simulated": len(model.rec.stocks),
        "people": len(pop),
        "people_arrived": arrived,
        "programmes": result.programmes,
        "person_months_in_work": int(work.sum()),
        "final_stocks": {s.label: int(n) for s, n in zip(STAGES, model.rec.stocks[-1][: len(STAGES)], strict=True)}
        if model.rec.stocks else {},
    }
    for label, t in (("12m", 12), ("60m", 60)):
        if t < len(model.rec.stocks):
            out[f"share_in_work_{label}"] = _share_at(stocks, format_month(model.start + t), (Stage.WORK,), arrived)
            out[f"share_self_supporting_{label}"] = _share_at(
                stocks, format_month(model.start + t), _SELF_SUPPORTING, arrived)
    led = result.tables["ledger"]
    if len(led):
        by_payer = led.groupby("payer")["sek"].sum()
        out["net_sek_by_payer"] = {p: float(v) for p, v in by_payer.items()}
        out["net_sek_society"] = float(by_payer.sum())
    q = result.tables["queues"]
    for name in result.programmes:
        qq = q[q["programme"] == name]
        ex = result.tables["exits"]
        ex = ex[ex["programme"] == name]
        out[f"programme.{name}"] = {
            "starts": int(qq["starts"].sum()),
            "max_waiting": int(qq["waiting"].max()) if len(qq) else 0,
            "max_participants": int(qq["participants"].max()) if len(qq) else 0,
            "exits": {r: int(ex[ex["reason"] == r]["people"].sum()) for r in sorted(set(ex["reason"]))},
        }
    return out
