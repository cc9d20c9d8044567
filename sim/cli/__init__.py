"""What a person types: the ``almsim`` commands, one module per group, listed explicitly in
:data:`sim.cli.main.REGISTRY`. Handlers import the heavy modules they need when they run.

May import every package.
"""
