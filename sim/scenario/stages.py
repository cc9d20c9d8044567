"""Stages a person can be in, and which moves between them are legal.

This module owns the vocabulary of the model's state machine and nothing else: the
:class:`Stage` enum (stored as ``uint8`` in the population arrays), the programme kinds
and the stage each kind occupies, and the one table of legal transitions, :data:`LEGAL`.
Every move the engine makes is checked against it in the tests.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Stage",
    "STAGES",
    "PROGRAMME_STAGES",
    "PROGRAMME_KINDS",
    "UNEMPLOYED_STAGES",
    "LEGAL",
    "legal",
    "is_legal",
    "stage_from_name",
    "stage_in",
]


class Stage(IntEnum):
    """Where a person is in a given month.

    ``NOT_ARRIVED`` holds people of a cohort or inflow whose arrival month has not come yet;
    they are excluded from every stock.
    """

    OPEN = 0  #: openly unemployed, on social assistance or unemployment insurance (UI)
    JOB = 1  #: the job and development guarantee, phases 1-2 (activity support)
    WAITING = 2  #: referred to a programme, waiting for a place
    COACHING = 3  #: individual coaching (e.g. Lycksele C2)
    TRAINING = 4  #: work training / practice (arbetsträning, praktik)
    EDUCATION = 5  #: SFI, komvux, vocational courses as a measure
    SUBSIDISED = 6  #: a subsidised, wage-paid job (resursjobb, nystartsjobb, ...)
    FAS3 = 7  #: the guarantee's phase 3 occupation placement
    WORK = 8  #: unsubsidised work (self-supporting)
    STUDIES = 9  #: regular studies on student finance
    OTHER = 10  #: other exits: sickness benefit, parental leave, moved, pension (absorbing)
    NOT_ARRIVED = 11  #: not yet in the population

    @property
    def label(self) -> str:
        """The lower-case name used in scenario files and result tables."""
        return self.name.lower()


#: Stages that are counted in stocks, in enum order.
STAGES: tuple[Stage, ...] = tuple(s for s in Stage if s is not Stage.NOT_ARRIVED)

#: Programme kind (as written in scenario files) -> the stage its participants occupy.
PROGRAMME_KINDS: dict[str, Stage] = {
    "coaching": Stage.COACHING,
    "training": Stage.TRAINING,
    "education": Stage.EDUCATION,
    "subsidised_job": Stage.SUBSIDISED,
}

PROGRAMME_STAGES: frozenset[Stage] = frozenset(PROGRAMME_KINDS.values())

#: Stages in which a person is out of work and supported by a benefit.
UNEMPLOYED_STAGES: frozenset[Stage] = frozenset({Stage.OPEN, Stage.JOB, Stage.WAITING, Stage.FAS3})

_S = Stage
_FROM_PROGRAMME = {_S.WORK, _S.STUDIES, _S.OTHER, _S.OPEN, _S.JOB, _S.FAS3,
                   _S.COACHING, _S.TRAINING, _S.EDUCATION, _S.SUBSIDISED}
_LEGAL_SETS: dict[Stage, set[Stage]] = {
    _S.NOT_ARRIVED: {_S.OPEN, _S.JOB, _S.FAS3, _S.WORK, _S.WAITING},
    _S.OPEN: {_S.JOB, _S.WAITING, _S.TRAINING, _S.EDUCATION, _S.SUBSIDISED,
              _S.WORK, _S.STUDIES, _S.OTHER},
    _S.JOB: {_S.FAS3, _S.WAITING, _S.TRAINING, _S.EDUCATION, _S.SUBSIDISED,
             _S.WORK, _S.STUDIES, _S.OTHER},
    _S.WAITING: {_S.COACHING, _S.TRAINING, _S.EDUCATION, _S.SUBSIDISED,
                 _S.OPEN, _S.JOB, _S.FAS3, _S.WORK, _S.STUDIES, _S.OTHER},
    _S.COACHING: _FROM_PROGRAMME - {_S.COACHING},
    _S.TRAINING: _FROM_PROGRAMME - {_S.TRAINING},
    _S.EDUCATION: _FROM_PROGRAMME - {_S.EDUCATION},
    _S.SUBSIDISED: _FROM_PROGRAMME - {_S.SUBSIDISED, _S.COACHING},
    _S.FAS3: {_S.JOB, _S.WAITING, _S.TRAINING, _S.EDUCATION, _S.SUBSIDISED,  # (-> JOB: Fas 3 ended, 2018)
              _S.WORK, _S.STUDIES, _S.OTHER},
    _S.WORK: {_S.OPEN, _S.JOB, _S.FAS3, _S.STUDIES, _S.OTHER},
    _S.STUDIES: {_S.WORK, _S.OPEN, _S.JOB, _S.FAS3, _S.OTHER},
    _S.OTHER: set(),
}

def legal(src: Stage | int, dst: Stage | int) -> bool:
    """Whether a move from stage ``src`` to stage ``dst`` is allowed (plain Python: checking a
    scenario needs no numpy)."""
    return Stage(dst) in _LEGAL_SETS.get(Stage(src), ())


def _legal_table() -> np.ndarray:
    import numpy as np

    table = np.zeros((len(Stage), len(Stage)), dtype=bool)
    for a, targets in _LEGAL_SETS.items():
        for b in targets:
            table[a, b] = True
    table.setflags(write=False)
    return table


if TYPE_CHECKING:
    #: ``LEGAL[a, b]`` is True when a move from stage ``a`` to stage ``b`` is allowed: a read-only
    #: numpy table for the engine, made on first use (numpy is not imported to check a scenario).
    LEGAL: np.ndarray


def _table() -> np.ndarray:
    table = globals().get("LEGAL")
    if table is None:
        table = globals()["LEGAL"] = _legal_table()
    return table


def __getattr__(name: str) -> Any:
    if name == "LEGAL":
        return _table()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_legal(src: np.ndarray | int, dst: np.ndarray | int) -> np.ndarray | bool:
    """Whether each move ``src -> dst`` is in the legal-transition table."""
    return _table()[src, dst]


def stage_from_name(name: str) -> Stage:
    """The stage named ``name`` as in scenario files (``"fas3"``, ``"open"``, ...).

    Raises:
        ValueError: if no stage has that name.
    """
    try:
        return Stage[name.upper()]
    except KeyError:
        known = ", ".join(s.label for s in STAGES)
        raise ValueError(f"unknown stage {name!r}; known stages: {known}") from None


def stage_in(stage: np.ndarray, stages: list[Stage] | tuple[Stage, ...] | frozenset[Stage]) -> np.ndarray:
    """``np.isin(stage, stages)``, faster for the few stages the model asks about."""
    import numpy as np

    stages = list(stages)
    if len(stages) <= 3:
        out = stage == stages[0] if stages else np.zeros(stage.shape, bool)
        for s in stages[1:]:
            out |= stage == s
        return out
    table = np.zeros(len(Stage), bool)
    table[stages] = True
    return table[stage]
