"""A run's results as tidy tables, its headline numbers, and atomic saving.

``RunResult`` holds pandas tables (one row per observation, long format):

* ``stocks``: month, stage, people;
* ``flows``: month, from_stage, to_stage, people;
* ``events``: month, person, from_stage, to_stage, programme, programme_start, income_support
  (person-level log; ``programme``: the programme whose waiting list or place the person had
  before the move; ``programme_start``: the move is a start in it, an admission from its waiting
  list; income support as paid in the first month booked after the move);
* ``queues``: month, programme, waiting, participants, capacity, starts, budget_spent_sek;
* ``exits``: month, programme, reason, people;
* ``follow_ups``: month, programme, months_after_exit, stage, income_support (none,
  social_assistance, unemployment_insurance, activity_support), people;
* ``status``: date, programme, stage, people (dated follow-ups of participants);
* ``ledger``: month, payer, category, sek (signed: negative = the payer pays);
* ``people``: person, arrival_month, age_at_arrival, sex, household, children, foreign_born,
  sfi, rehab_need, education, months_on_assistance_at_entry, initial_stage;
* ``tracked_state`` / ``tracked_money`` (only for people followed with ``track=``): each
  month's stage, clocks and whether UI is income-related, and each month's postings per payer
  and category;

plus ``summary`` (headline numbers) and ``manifest`` (what produced it). ``save`` writes a
folder through a temporary sibling and one rename, so a reader never sees half a run.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.accounts.book import post_keys
from sim.accounts.payers import PAYERS
from sim.engine.month.book import keys as ledger_keys_now
from sim.engine.month.follow_up import INCOME_SUPPORT, support_codes
from sim.runs.folders import pid_alive
from sim.runs.workers import deferred_interrupt
from sim.scenario.dated import format_month
from sim.scenario.stages import STAGES, Stage

if TYPE_CHECKING:
    from sim.engine.model import ProgrammeModel
    from sim.engine.population import Population

__all__ = ["RunResult", "atomic_dir", "TABLES"]

TABLES = ("stocks", "flows", "events", "queues", "exits", "follow_ups", "status", "ledger", "people",
          "tracked_state", "tracked_money")
_NS = len(Stage)
_LABELS = np.array([s.label for s in Stage], dtype=object)
_SELF_SUPPORTING = (Stage.WORK, Stage.STUDIES)


class LazyTables(Mapping[str, pd.DataFrame]):
    """A mapping of table names to DataFrames, each built on first access (then kept)."""

    def __init__(self, builders: dict[str, Callable[[], pd.DataFrame]]) -> None:
        self._builders = dict(builders)
        self._built: dict[str, pd.DataFrame] = {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._built:
            if name not in self._builders:
                raise KeyError(name)
            self._built[name] = self._builders[name]()
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._builders)

    def __len__(self) -> int:
        return len(self._builders)

    def built(self, name: str) -> bool:
        """Whether table ``name`` has been built (and is kept)."""
        return name in self._built

    def forget(self, name: str) -> None:
        """Let go of table ``name`` if built (it is built again when next asked for)."""
        self._built.pop(name, None)


@dataclass
class RunResult:
    """Tables and headline numbers of one run."""

    scenario: str
    seed: int
    start_month: int
    horizon_months: int
    programmes: list[str]
    tables: Mapping[str, pd.DataFrame]
    summary: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    #: the run's :class:`~sim.accounts.book.LedgerBook` (not saved): the same states can be
    #: posted again under other money rates (assumption lines of a comparison)
    ledger_book: Any = field(default=None, repr=False, compare=False)
    #: the records the tables are built from (not saved; see :meth:`followed`)
    records: Any = field(default=None, repr=False, compare=False)
    #: net SEK ``[month, payer]`` of :data:`sim.accounts.payers.PAYERS` over the horizon, for a run
    #: kept as nothing else (:func:`sim.runs.replications.nets_only`; else ``None``)
    nets: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: per other share of a-kassa members at entry the run was asked for (``member_shares``; else
    #: ``None``): how much its net SEK ``[month, payer]`` (as :attr:`nets`) would change at that
    #: share (:meth:`nets_at_member_share`)
    member_changes: dict[float, np.ndarray] | None = field(default=None, repr=False, compare=False)

    def nets_at_member_share(self, share: float, months: int) -> np.ndarray:
        """Net SEK ``[month, payer]`` of :data:`~sim.accounts.payers.PAYERS` over ``months`` had the
        share of a-kassa members at entry been ``share`` (one of :attr:`member_changes`): membership
        changes who is paid what, not what anyone does, so this is the run's own nets plus the
        change for the people whose UI would be income-related or not the other way (equal to a
        run with that share up to the order of floating-point additions)."""
        if self.member_changes is None or share not in self.member_changes:
            raise KeyError(f"this run did not book the a-kassa share {share}")
        own = self.nets if self.nets is not None else self.ledger_book.net(PAYERS, months)
        return own[:months] + self.member_changes[share][:months]

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_model(cls, model: ProgrammeModel, *, summary: bool = True) -> RunResult:
        """Collect the tables of a finished (or partly run) model (``summary=False``: without the
        headline numbers, which post the ledger; a calibration reads only tables)."""
        rec = model.rec
        if len(rec.event_keys) < len(rec.events) and hasattr(model, "state"):  # the last month's movers, at the end
            r = model.state.regime
            rec.key_events(ledger_keys_now(model.state), r.money, r.programme_money)
        names = [p.name for p in model.spec.programmes]
        start = model.start
        months = len(rec.stocks)
        build = _TableBuilder(model, names, _month_labels(start, max(months, 1)))
        tables = LazyTables({name: getattr(build, name) for name in TABLES
                             if not name.startswith("tracked") or model.track.size})
        result = cls(scenario=model.spec.name, seed=model.seed, start_month=start,
                     horizon_months=model.horizon, programmes=names, tables=tables,
                     ledger_book=model.rec.ledger_book, records=build)
        if summary:
            result.summary = _summary(model, result)
        if getattr(rec, "member_shares", ()):
            result.member_changes = rec.member_change = rec.member_changes(model.horizon)
            rec.changed = []  # (worked out: not kept, in a store or from a worker)
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
        _sweep_stale(self.path)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.tmp-{os.getpid()}-", dir=self.path.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o777 & ~umask)  # mkdtemp makes it private; a run folder is not
        return self.tmp

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        try:
            for f in self.tmp.rglob("*"):
                if f.is_file():
                    with open(f, "rb") as fh:
                        os.fsync(fh.fileno())
        except BaseException:  # a full disk, or Ctrl-C: nothing is left behind
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        old = None
        with deferred_interrupt():  # the renames are never split by Ctrl-C
            if self.path.exists():
                old = self.path.parent / f".{self.path.name}.old-{os.getpid()}"
                os.rename(self.path, old)
            os.rename(self.tmp, self.path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


@functools.lru_cache(maxsize=64)
def _month_labels(start: int, months: int) -> np.ndarray:
    """``YYYY-MM`` of months ``start .. start + months - 1`` (object array, read-only): made once
    for the many runs of a batch or comparison that share their months (~0.2 ms a run)."""
    labels = np.array([format_month(start + t) for t in range(months)], dtype=object)
    labels.flags.writeable = False
    return labels


#: The columns of each table built from its columns, in order.
_TABLE_COLUMNS: dict[str, list[str]] = {
    "stocks": ["month", "stage", "people"],
    "flows": ["month", "from_stage", "to_stage", "people"],
    "events": ["month", "person", "from_stage", "to_stage", "programme", "programme_start", "income_support"],
    "queues": ["month", "programme", "waiting", "participants", "capacity", "starts", "budget_spent_sek"],
    "exits": ["month", "programme", "reason", "people"],
    "follow_ups": ["month", "programme", "months_after_exit", "stage", "income_support", "people"],
    "people": ["person", "arrival_month", "age_at_arrival", "sex", "household", "children", "foreign_born",
               "sfi", "rehab_need", "education", "months_on_assistance_at_entry", "initial_stage"],
}
#: Each table of a run that recorded none of its rows (the recorder's list of the same name is
#: empty), with the column types it has always had.
_EMPTY: dict[str, Callable[[], pd.DataFrame]] = {
    "flows": lambda: pd.DataFrame({n: [] for n in _TABLE_COLUMNS["flows"]}),
    "events": lambda: pd.DataFrame({n: np.zeros(0, bool) if n == "programme_start" else []
                                    for n in _TABLE_COLUMNS["events"]}),
    "queues": lambda: pd.DataFrame({"month": [], "programme": [], "waiting": np.zeros(0, np.int64),
                                    "participants": np.zeros(0, np.int64), "capacity": np.zeros(0, np.int64),
                                    "starts": [], "budget_spent_sek": np.zeros(0)}),
    "exits": lambda: pd.DataFrame([], columns=_TABLE_COLUMNS["exits"]),
    "follow_ups": lambda: pd.DataFrame([], columns=_TABLE_COLUMNS["follow_ups"]),
}


class _TableBuilder:
    """Builds each table of a run from the recorder's raw records, when first asked for."""

    def __init__(self, model: ProgrammeModel, names: list[str], month_labels: np.ndarray) -> None:
        # Keep only picklable records (not the model, whose SimPy calendar holds generators),
        # so a result can travel back from a worker process with its tables still lazy.
        self.pop = model.pop
        self.rec = model.rec
        self.names = names
        self.months = len(model.rec.stocks)
        self.month_labels = month_labels

    # Each table below is built from its columns (numpy arrays, some computed only when asked
    # for): a calibration's statistics read a few columns of a few tables for every particle, and
    # a pandas frame costs ~0.3 ms a column to build (text columns convert to Arrow strings).
    def column(self, table: str, name: str) -> np.ndarray:
        """One column of ``table`` as the table would hold it (``table[name].to_numpy()``),
        without building the table."""
        if self._empty(table):
            return _EMPTY[table]()[name].to_numpy()
        cache = self.__dict__.setdefault("_columns", {})
        if table not in cache:
            cache[table] = getattr(self, f"_{table}_columns")()
        cols = cache[table]
        value = cols[name]
        if callable(value):
            value = cols[name] = value()
        return value

    def _empty(self, table: str) -> bool:
        return table in _EMPTY and not getattr(self.rec, table)

    def _table(self, table: str) -> pd.DataFrame:
        if self._empty(table):
            return _EMPTY[table]()
        return pd.DataFrame({n: self.column(table, n) for n in _TABLE_COLUMNS[table]})

    def stocks(self) -> pd.DataFrame:
        return self._table("stocks")

    def _stocks_columns(self) -> dict[str, Any]:
        rec, months, month_labels = self.rec, self.months, self.month_labels
        stock_arr = np.array(rec.stocks, dtype=np.int64).reshape(months, _NS)[:, : len(STAGES)]
        return {"month": np.repeat(month_labels[:months], len(STAGES)),
                "stage": np.tile(_LABELS[: len(STAGES)], months), "people": stock_arr.reshape(-1)}

    def flows(self) -> pd.DataFrame:
        return self._table("flows")

    def _flows_columns(self) -> dict[str, Any]:
        rec, month_labels = self.rec, self.month_labels
        ts = sorted(rec.flows)  # one frame from all months' non-zero cells (a frame a month cost ~0.3 ms each)
        counts = np.stack([rec.flows[t] for t in ts])
        row, nz = np.nonzero(counts)
        return {"month": month_labels[np.asarray(ts)[row]], "from_stage": _LABELS[nz // _NS],
                "to_stage": _LABELS[nz % _NS], "people": counts[row, nz]}

    def events(self) -> pd.DataFrame:
        return self._table("events")

    def _events_columns(self) -> dict[str, Any]:
        rec, month_labels, names = self.rec, self.month_labels, self.names
        t = np.concatenate([np.full(e[1].size, e[0], np.int32) for e in rec.events])
        prog = np.concatenate([e[4] for e in rec.events])
        person = np.concatenate([e[1] for e in rec.events])
        src = np.concatenate([e[2] for e in rec.events])
        return {
            "month": month_labels[t],
            "person": person,
            "from_stage": _LABELS[src],
            "to_stage": _LABELS[np.concatenate([e[3] for e in rec.events])],
            "programme": np.where(prog >= 0, np.array(names + [""], dtype=object)[prog], ""),
            "programme_start": lambda: self._event_starts(t, person, src),
            # posts every mover's state: computed only when asked for
            "income_support": lambda: np.array(INCOME_SUPPORT, dtype=object)[self._event_support()],
        }

    def _event_starts(self, t: np.ndarray, person: np.ndarray, src: np.ndarray) -> np.ndarray:
        """Whether each event is a programme start (:meth:`Recorder.admissions
        <sim.engine.recorder.Recorder.admissions>`: a person moves at most once a month, so a
        start is the one move from a waiting list of its month and person)."""
        at, _, aid = self.rec.admissions()
        if not aid.size:
            return np.zeros(t.size, bool)
        width = int(max(person.max(), aid.max())) + 1
        return np.isin(t.astype(np.int64) * width + person, at * width + aid) & (src == Stage.WAITING)

    def _event_support(self) -> np.ndarray:
        """Each event's income support after the move (codes of ``INCOME_SUPPORT``): posted once
        per distinct state and set of money rules, as the ledger book does (read from the postings
        the blocks of a batch share when the states were booked there: the same numbers)."""
        batches = self.rec.event_keys
        shared = getattr(self.rec.ledger_book, "postings", None)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, (_keys, m, pm) in enumerate(batches):
            groups.setdefault((id(m), id(pm)), []).append(i)
        codes = [np.zeros(0, np.uint8)] * len(batches)
        for idx in groups.values():
            _, m, pm = batches[idx[0]]
            every, inverse = np.unique(np.concatenate([batches[i][0] for i in idx]), return_inverse=True)
            found = shared.table(every, m, pm) if shared is not None else None
            posted = dict(zip(found[0], found[1].T, strict=True)) if found is not None else post_keys(every, m, pm)
            per_key = support_codes(posted, every.size)[inverse]
            for i, part in zip(idx, np.split(per_key, np.cumsum([batches[i][0].size for i in idx])[:-1]), strict=True):
                codes[i] = part
        return np.concatenate(codes) if codes else np.zeros(0, np.uint8)

    def queues(self) -> pd.DataFrame:
        return self._table("queues")

    def _queues_columns(self) -> dict[str, Any]:
        rec, month_labels, names = self.rec, self.month_labels, self.names
        q = np.array(rec.queues, dtype=np.float64).reshape(-1, 6)
        t, p = q[:, 0].astype(np.int64), q[:, 1].astype(np.int64)
        return {
            "month": month_labels[t], "programme": np.array(names, dtype=object)[p],
            "waiting": q[:, 2].astype(np.int64), "participants": q[:, 3].astype(np.int64),
            "capacity": q[:, 4].astype(np.int64),
            "starts": np.array([rec.starts.get((a, b), 0) for a, b in zip(t.tolist(), p.tolist(), strict=True)],
                               dtype=np.int64),
            "budget_spent_sek": q[:, 5],
        }

    def exits(self) -> pd.DataFrame:
        return self._table("exits")

    def _exits_columns(self) -> dict[str, Any]:
        rec, month_labels, names = self.rec, self.month_labels, self.names
        keys, people = zip(*sorted(rec.exits.items()), strict=True)
        t, p, reason = zip(*keys, strict=True)
        return {"month": month_labels[np.array(t, dtype=np.int64)],
                "programme": np.array(names, dtype=object)[np.array(p, dtype=np.int64)],
                "reason": np.array(reason, dtype=object), "people": np.array(people, dtype=np.int64)}

    def follow_ups(self) -> pd.DataFrame:
        return self._table("follow_ups")

    def _follow_ups_columns(self) -> dict[str, Any]:
        rec, month_labels, names = self.rec, self.month_labels, self.names
        rows = np.stack([row for *_, row in rec.follow_ups])
        entry, cell = np.nonzero(rows)  # row-major: entries in order, each entry's cells ascending
        head = np.array([(t, p, k) for t, p, k, _ in rec.follow_ups], dtype=np.int64)[entry]
        return {"month": month_labels[head[:, 0]], "programme": np.array(names, dtype=object)[head[:, 1]],
                "months_after_exit": head[:, 2], "stage": _LABELS[cell // 4],
                "income_support": np.array(INCOME_SUPPORT, dtype=object)[cell % 4],
                "people": rows[entry, cell].astype(np.int64)}

    def status(self) -> pd.DataFrame:
        rec, names = self.rec, self.names
        st = [(format_month(d), names[p], _LABELS[s], int(row[s]))
              for d, p, row in rec.status_rows for s in np.flatnonzero(row)]
        return pd.DataFrame(st, columns=["date", "programme", "stage", "people"])

    def ledger(self) -> pd.DataFrame:
        rec, month_labels = self.rec, self.month_labels
        return pd.DataFrame(
            [(month_labels[t], payer, cat, amount) for t, totals in rec.ledger
             for (payer, cat), amount in sorted(totals.items()) if amount != 0.0],
            columns=["month", "payer", "category", "sek"])
    def people(self) -> pd.DataFrame:
        return self._table("people")

    def _people_columns(self) -> dict[str, Any]:
        return _people_columns(self.pop)

    def tracked_state(self) -> pd.DataFrame:
        return self._tracked_tables()[0]

    def tracked_money(self) -> pd.DataFrame:
        return self._tracked_tables()[1]

    def _tracked_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        if getattr(self, "_tracked_cache", None) is None:
            self._tracked_cache = _tracked(self.rec, self.month_labels, self.names)
        return self._tracked_cache


def _sweep_stale(path: Path) -> None:
    """Remove temporary folders (and replaced old copies) left by killed writers of any run
    in ``path``'s folder (a killed run of another seed leaves one under another name)."""
    for pattern in (".*.tmp-*", ".*.old-*"):
        for stale in path.parent.glob(pattern):
            try:
                pid = int(stale.name.split(".tmp-" if ".tmp-" in stale.name else ".old-")[1].split("-")[0])
            except (IndexError, ValueError):
                continue
            if pid != os.getpid() and not pid_alive(pid):
                shutil.rmtree(stale, ignore_errors=True)


def _people_columns(pop: Population) -> dict[str, Any]:
    """Who each person is (attributes fixed at entry), column by column (some only when asked for)."""
    from sim.engine.population import EDUCATION_CODES, HOUSEHOLD_CODES

    def arrival() -> np.ndarray:
        months, inverse = np.unique(pop.arrival_month, return_inverse=True)
        return np.array([format_month(int(m)) for m in months], dtype=object)[inverse]

    return {
        "person": np.arange(len(pop)),
        "arrival_month": arrival,
        "age_at_arrival": lambda: (pop.arrival_month - pop.birth_month) // 12,
        "sex": lambda: np.where(pop.female, "female", "male").astype(object),
        "household": lambda: np.array(list(HOUSEHOLD_CODES), dtype=object)[pop.household],
        "children": pop.children, "foreign_born": pop.foreign_born, "sfi": pop.sfi, "rehab_need": pop.rehab_need,
        "education": lambda: np.array(list(EDUCATION_CODES), dtype=object)[pop.education],
        "months_on_assistance_at_entry": pop.months_on_assistance_at_entry,
        "initial_stage": lambda: _LABELS[pop.initial_stage],
    }


def _tracked(rec: object, month_labels: np.ndarray, names: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = rec.tracked_state  # type: ignore[attr-defined]
    if rows:
        cols = [k for k in rows[0] if k != "t"]
        data = {k: np.concatenate([r[k] for r in rows]) for k in cols}
        t = np.concatenate([np.full(r["person"].size, r["t"]) for r in rows])
        state = pd.DataFrame({"month": month_labels[t], **data})
        state["stage"] = _LABELS[state["stage"].to_numpy()]
        prog = state["programme"].to_numpy()
        state["programme"] = np.where(prog >= 0, np.array(names + [""], dtype=object)[prog], "")
    else:
        state = pd.DataFrame()
    # One block of columns per (month, posting pair), in the order the rows were always listed:
    # by month, then (payer, category), then person; zero postings left out.
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for t, ids, postings in rec.tracked_money:  # type: ignore[attr-defined]
        ids = np.asarray(ids, dtype=np.int64)
        for (payer, cat), v in sorted(postings.items()):
            v = np.asarray(v, dtype=np.float64)
            nz = np.flatnonzero(v != 0.0)
            if nz.size:
                parts.append((np.full(nz.size, t), ids[nz], np.full(nz.size, payer, dtype=object),
                              np.full(nz.size, cat, dtype=object), v[nz]))
    cols = ["month", "person", "payer", "category", "sek"]
    if parts:
        t, person, payer, cat, sek = (np.concatenate(c) for c in zip(*parts, strict=True))
        money = pd.DataFrame({"month": month_labels[t], "person": person, "payer": payer, "category": cat,
                              "sek": sek})
    else:
        money = pd.DataFrame(columns=cols)
    return state, money


def _summary(model: ProgrammeModel, result: RunResult) -> dict[str, Any]:
    """Headline numbers of a run (plain JSON types), from the raw records (no tables built)."""
    pop, rec = model.pop, model.rec
    arrived = int((pop.stage != Stage.NOT_ARRIVED).sum())
    stocks = np.array(rec.stocks, dtype=np.int64).reshape(len(rec.stocks), _NS)
    out: dict[str, Any] = {
        "scenario": model.spec.name,
        "seed": model.seed,
        "start_month": format_month(model.start),
        "start_month_index": model.start,
        "horizon_months": model.horizon,
        "months_simulated": len(rec.stocks),
        "people": len(pop),
        "people_arrived": arrived,
        "programmes": result.programmes,
        "person_months_in_work": int(stocks[:, Stage.WORK].sum()),
        "final_stocks": {s.label: int(stocks[-1, s]) for s in STAGES} if len(stocks) else {},
    }
    for label, t in (("12m", 12), ("60m", 60)):
        if t < len(stocks) and arrived:
            out[f"share_in_work_{label}"] = float(stocks[t, Stage.WORK]) / arrived
            out[f"share_self_supporting_{label}"] = float(stocks[t, list(_SELF_SUPPORTING)].sum()) / arrived
    by_payer = rec.ledger_book.by_payer()
    if by_payer:
        out["net_sek_undiscounted"] = {p: by_payer[p] for p in sorted(by_payer)}
        out["net_sek_undiscounted_society"] = float(sum(by_payer[p] for p in sorted(by_payer)))
    q = np.array(rec.queues, dtype=np.float64).reshape(-1, 6)
    for i, name in enumerate(result.programmes):
        qq = q[q[:, 1] == i]
        reasons = sorted({r for (_, p, r) in rec.exits if p == i})
        out[f"programme.{name}"] = {
            "starts": int(sum(n for (_, p), n in rec.starts.items() if p == i)),
            "max_waiting": int(qq[:, 2].max()) if len(qq) else 0,
            "max_participants": int(qq[:, 3].max()) if len(qq) else 0,
            "exits": {r: int(sum(n for (_, p, rr), n in rec.exits.items() if p == i and rr == r)) for r in reasons},
        }
    return out
