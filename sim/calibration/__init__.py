"""What the data say: calibration targets, parameter spaces, ABC-SMC fits (``fit``) and
sensitivity analysis (SALib).

May import every package before it (scenario, accounts, engine, runs, analysis).
"""
