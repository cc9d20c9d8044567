"""The golden baseline: the headline numbers of every shipped comparison, pinned.

Every baseline-vs-programme pair in ``scenarios/`` is compared at a fixed seed and number
of paired replications; the numbers a politician reads (each payer's discounted saving and
the extra people in work, at 1 and 5 years and the full horizon, as the terminal prints them;
median, mean and P10/P90) are written to
``tests/golden/baseline.csv``; for the main job's pair (``EXPLAINED``) also what its terminal
and report print beside them at 5 years for the municipality, the state and society: the
payoff-style estimate and every step of the bridge to the simulated saving, and the lines of
the assumptions that drive the answer. ``tests/test_golden.py`` recomputes them and fails when any
moves beyond float noise, so a change that moves a headline is a reviewed diff.

Regenerate after a deliberate change (and say in the commit which numbers moved and why)::

    .venv/bin/python tests/golden/golden.py --update
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
BASELINE = Path(__file__).with_name("baseline.csv")
SEED = 20261130
REPLICATIONS = 8
#: Every shipped comparison: (baseline file, programme file), in ``scenarios/``.
PAIRS: tuple[tuple[str, str], ...] = (
    ("c2-lycksele-baseline", "c2-lycksele"),
    ("c2-lycksele-baseline", "c2-lycksele-2coaches"),
    ("c2-lycksele-baseline", "c2-lycksele-calibrated"),
    ("mjolby-baseline", "mjolby"),
    ("sigtuna-jobblyftet-baseline", "sigtuna-jobblyftet"),
    ("sigtuna-resursjobb-baseline", "sigtuna-resursjobb"),
    ("sigtuna-resursjobb-baseline", "sigtuna-resursjobb-100"),
    ("sigtuna-resursjobb-baseline", "sigtuna-resursjobb-akassa"),
    ("traning-ger-fardighet-baseline", "traning-ger-fardighet"),
    ("umea-insteget-baseline", "umea-insteget"),
)
#: The headline metrics pinned (money per payer; people with an empty payer).
METRICS = ("net_saving_discounted_sek", "extra_in_work")
HORIZONS = (12, 60)
COLUMNS = ["baseline", "scenario", "metric", "horizon_months", "payer", "p10", "p50", "p90", "mean"]
#: The main job's pair (README), whose bridge and assumption lines are pinned too ...
EXPLAINED = ("sigtuna-resursjobb-baseline", "sigtuna-resursjobb")
#: ... at this horizon, for these payers (what the terminal prints).
EXPLAINED_HORIZON = 60
EXPLAINED_PAYERS = ("municipality", "state", "society")
#: Float noise allowed: sums may add in another order (relative) and round near zero (SEK).
RTOL, ATOL = 1e-9, 1e-3


def compute(pairs: tuple[tuple[str, str], ...] = PAIRS) -> pd.DataFrame:
    """The golden table, computed now with the current code."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from sim import load_scenario
    from sim.analysis.comparison import compare

    frames = []
    for base_name, scen_name in pairs:
        base = load_scenario(ROOT / "scenarios" / f"{base_name}.yaml")
        scen = load_scenario(ROOT / "scenarios" / f"{scen_name}.yaml")
        # (the assumption lines and the payoff bridge are pinned for the main job's pair only: they
        # do not change the headline, and without them a comparison is a quarter of the simulations)
        explained = (base_name, scen_name) == EXPLAINED
        cmp = compare(base, [scen], seed=SEED, replications=REPLICATIONS, sensitivity=explained, bridge=explained)
        head = cmp.headline
        # the horizons the terminal and the report print: 1 and 5 years and the comparison's full one
        full = head["horizon_months"].max()
        head = head[head["metric"].isin(METRICS) & (head["horizon_months"].isin(HORIZONS)
                                                    | (head["horizon_months"] == full))].copy()
        if explained:
            at = EXPLAINED_HORIZON
            bridge = cmp.tables["bridge"]
            bridge = bridge[(bridge["horizon_months"] == at) & bridge["payer"].isin(EXPLAINED_PAYERS)].copy()
            bridge["metric"] = "bridge:" + bridge["step"]
            lines = cmp.tables["assumption_lines"]
            lines = lines[(lines["horizon_months"] == at) & lines["payer"].isin(EXPLAINED_PAYERS)].copy()
            lines["metric"] = "line:" + lines["assumption"] + "=" + lines["value"].map("{:g}".format)
            lines["mean"] = float("nan")
            head = pd.concat([head, bridge, lines], ignore_index=True)
        head.insert(0, "baseline", base_name)
        head["scenario"] = scen_name
        frames.append(head[COLUMNS])
    out = pd.concat(frames, ignore_index=True)
    out["payer"] = out["payer"].fillna("")
    return out.sort_values(["baseline", "scenario", "metric", "horizon_months", "payer"], ignore_index=True)


def load() -> pd.DataFrame:
    """The committed golden table."""
    return pd.read_csv(BASELINE, keep_default_na=False, na_values=[""],
                       dtype={"payer": str}).fillna({"payer": ""})


def differences(now: pd.DataFrame, golden: pd.DataFrame) -> list[str]:
    """Lines naming every headline that moved beyond float noise (empty if none)."""
    import numpy as np

    keys = ["baseline", "scenario", "metric", "horizon_months", "payer"]
    m = golden.merge(now, on=keys, how="outer", suffixes=("_golden", "_now"), indicator=True)
    out = []
    for _, r in m.iterrows():
        name = f"{r['scenario']} vs {r['baseline']}: {r['metric']} {r['payer'] or '-'} {r['horizon_months']} m"
        if r["_merge"] != "both":
            out.append(f"{name}: only in {'the golden table' if r['_merge'] == 'left_only' else 'the new run'}")
            continue
        for q in [q for q in ("p10", "p50", "p90", "mean") if q in golden.columns and q in now.columns]:
            a, b = float(r[f"{q}_golden"]), float(r[f"{q}_now"])
            if not np.isclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True):
                out.append(f"{name}: {q} {a:,.2f} -> {b:,.2f}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--update", action="store_true", help="write the table anew (otherwise: show what moved)")
    args = ap.parse_args(argv)
    now = compute()
    if args.update:
        old = load() if BASELINE.exists() else None
        now.to_csv(BASELINE, index=False, float_format="%.17g")
        moved = differences(now, old) if old is not None else []
        print(f"wrote {BASELINE.relative_to(ROOT)} ({len(now)} rows); {len(moved)} numbers moved")
        for line in moved:
            print("  " + line)
        return 0
    moved = differences(now, load())
    for line in moved:
        print(line)
    print(f"{len(moved)} headline numbers moved")
    return 1 if moved else 0


if __name__ == "__main__":
    raise SystemExit(main())
