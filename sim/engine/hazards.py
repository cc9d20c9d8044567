"""Monthly hazards as pure functions of people's arrays and the parameters in force.

The structure follows the discrete-time duration models of the programme-evaluation
literature (DOMAIN.md part C): a base rate per stage and destination, multiplied for the
work destination by

* attribute effects ``exp(sum of log hazard ratios)`` and the latent employability type
  ``exp(sd * z)`` (unobserved heterogeneity),
* duration dependence ``exp(beta * min(years out of work, cap))``,
* a programme effect: the lock-in ratio while in a programme, and after it a hazard ratio
  that fades exponentially, ``1 + (HR - 1) * exp(-months_since / fade)``,
* motivation, which waiting for a place lowers.

Destinations are competing risks: with total hazard ``H`` a person leaves with probability
``1 - exp(-H)`` and goes to destination ``d`` with probability ``h_d / H`` (the draws are
made per person by :mod:`sim.engine.month.exits`, which calls the per-person functions here).
This module may import :mod:`sim.scenario`, :mod:`sim.accounts` and the engine's population.
"""

from __future__ import annotations

import numpy as np

from sim.accounts.jit import helper
from sim.engine.population import HOUSEHOLD_CODES, Population
from sim.scenario.dated import Month
from sim.scenario.schema import Effects

__all__ = ["attribute_log_hr", "age_groups", "consecutive", "static_multipliers", "duration_factor", "decay_table",
           "after_effect", "leave_probability"]

_SINGLE_PARENT = HOUSEHOLD_CODES["single_parent"]


def consecutive(ids: np.ndarray) -> np.ndarray | slice:
    """``ids`` (ascending, distinct) as a slice if they are a run of consecutive ids, as a cohort's
    arrivals are: the attributes are then read as views, not gathered (10^6 arrivals: ~12 copies
    of everyone's columns fewer)."""
    if ids.size > 1 and ids[-1] - ids[0] + 1 == ids.size and (ids[1:] > ids[:-1]).all():
        return slice(int(ids[0]), int(ids[-1]) + 1)
    return ids


def attribute_log_hr(pop: Population, ids: np.ndarray | slice, coefs: dict[str, float], month: Month) -> np.ndarray:
    """Sum of log hazard ratios of each person's attributes (float32); ``ids`` an index of people."""
    months = _months_old(pop, ids, month)  # (the ages' limits read in months: see _months_old)
    out = np.zeros(months.shape[0], np.float32)
    if not coefs:
        return out
    masks = {
        "youth": lambda: months < _YOUNG_MONTHS,
        "age_50_plus": lambda: months >= _OLD_MONTHS,
        "female": lambda: pop.female[ids],
        "foreign_born": lambda: pop.foreign_born[ids],
        "sfi": lambda: pop.sfi[ids],
        "rehab_need": lambda: pop.rehab_need[ids],
        "compulsory_only": lambda: pop.education[ids] == 0,
        "tertiary": lambda: pop.education[ids] == 2,
        "children": lambda: pop.children[ids] > 0,
        "single_parent": lambda: pop.household[ids] == _SINGLE_PARENT,
    }
    for name, beta in coefs.items():
        out += np.float32(beta) * masks[name]()
    return out


_YOUNG_MONTHS, _OLD_MONTHS = np.int32(25 * 12), np.int32(50 * 12)  # ("youth", "age_50_plus")


def _months_old(pop: Population, ids: np.ndarray | slice | None, month: Month) -> np.ndarray:
    """Whole months since birth in ``month`` (int32), for everyone or ``ids``.

    The attribute effects' age limits are read on them: the float32 age
    (:meth:`~sim.engine.population.Population.age_years`), ``d / 12`` for ``d`` months, is below
    25 exactly when ``d < 300`` and at least 50 exactly when ``d >= 600`` (no rounding reaches 25
    or 50 from below), so no float64 and float32 ages are made (everyone's age groups at 10^6
    people: 2.3-2.4 -> 0.97 ms; the yearly refresh ~7 -> ~5 ms).
    """
    birth = pop.birth_month if ids is None else pop.birth_month[ids]
    return np.int32(month) - birth


def age_groups(pop: Population, ids: np.ndarray | slice | None, month: Month) -> np.ndarray:
    """Each person's age group as :func:`attribute_log_hr` sees it in ``month`` (bit 0: under 25,
    bit 1: 50 or over; uint8): the only attributes that change with time. Someone whose group
    has not changed has the same multipliers as when they were last computed."""
    months = _months_old(pop, ids, month)
    group = (months < _YOUNG_MONTHS).view(np.uint8)
    group |= (months >= _OLD_MONTHS).view(np.uint8) << 1
    return group


def regrouped(pop: Population, known: np.ndarray, ids: np.ndarray | None, month: Month) -> np.ndarray | slice:
    """The people whose multipliers must be computed again: ``ids`` if given (as a slice where
    they are consecutive: :func:`consecutive`), else everyone whose age group
    (:func:`age_groups`) changed since ``known`` (the yearly refresh; the others' would come out
    the same). ``known``, everyone's group when theirs were last computed, is updated in place."""
    if ids is None:
        group = age_groups(pop, None, month)
        ids = np.flatnonzero(group != known)
        known[:] = group
    else:
        ids = consecutive(ids)
        known[ids] = age_groups(pop, ids, month)
    return ids


def static_multipliers(pop: Population, ids: np.ndarray | slice, effects: Effects, month: Month
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Work and studies hazard multipliers from attributes and the latent type (float32; the
    type is drawn with its spread, each person with their own composition's)."""
    work = attribute_log_hr(pop, ids, effects.work, month)
    work += pop.employability[ids]
    studies = attribute_log_hr(pop, ids, effects.studies, month)
    return np.exp(work), np.exp(studies)


def duration_factor(months_out_of_work: np.ndarray, effects: Effects) -> np.ndarray:
    """Duration dependence of the work hazard (float32)."""
    years = np.minimum(months_out_of_work.astype(np.float32) / np.float32(12.0), np.float32(effects.duration_cap_years))
    return np.exp(np.float32(effects.duration_log_hr_per_year) * years)


def decay_table(fade_months: np.ndarray, months: int) -> np.ndarray:
    """How much of a programme's after-effect is left ``m`` months after leaving it (float32).

    Row ``p`` is programme ``p``, column ``m`` is ``exp(-m / fade_p)`` for ``m = 0 .. months - 1``.
    Months since a programme are whole numbers, so the engine looks the decay up instead of
    evaluating an exponential per person and month.
    """
    m = np.arange(months, dtype=np.float32)
    return np.exp(-m[None, :] / np.asarray(fade_months, np.float32)[:, None])


@helper
def after_effect(effect_at_exit, decay):  # noqa: ANN001, ANN201
    """Post-programme hazard ratio, fading from ``effect_at_exit`` toward 1 (float32).

    Args:
        effect_at_exit: the hazard ratio earned when leaving (float32).
        decay: the fraction left now (from :func:`decay_table`).
    """
    one = np.float32(1.0)
    return one + (effect_at_exit - one) * decay


@helper
def leave_probability(total):  # noqa: ANN001, ANN201
    """Probability of leaving within the month for a total monthly hazard, ``1 - exp(-H)``."""
    return -np.expm1(-total)
