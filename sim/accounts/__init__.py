"""Who pays what: payers and categories (``payers``), the posting rules (``rules``), the ledger
book that sums them by month (``book``), and how passes over everyone are compiled (``jit``).

May import :mod:`sim.scenario` only: the engine calls the rules, the rules know nothing of the loop.
"""
