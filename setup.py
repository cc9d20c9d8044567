"""Build hook: ship the repository's scenarios inside the package, so that an installed
almsim (a wheel, not a clone) can resolve ``almsim:NAME`` and ``almsim new --from almsim:NAME``.

Everything else about the package is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithScenarios(build_py):
    """``build_py`` that also copies ``scenarios/*.yaml`` (and ``docs/sources.md``, the full
    references of their sources) to ``sim/shipped_scenarios/``."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "sim" / "shipped_scenarios"
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(Path(__file__).parent.joinpath("scenarios").glob("*.yaml")):
            shutil.copy2(path, target / path.name)
        shutil.copy2(Path(__file__).parent / "docs" / "sources.md", target / "sources.md")


setup(cmdclass={"build_py": BuildWithScenarios})
