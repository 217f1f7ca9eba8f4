"""The README's two commands are the ones the Makefile defines and CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- commands -->\s*```(?:sh|bash)?\n(.*?)```", text, re.S)
    assert block, "README must hold the two commands in a fenced block after <!-- commands -->"
    return [line.strip() for line in block.group(1).splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_readme_gives_exactly_two_commands_demo_then_test():
    assert _readme_commands() == ["make demo", "make test"]


def test_ci_runs_exactly_the_readme_test_command():
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.strip().startswith(("#", "set ", "cd "))]
    assert ci == [_readme_commands()[1]]


def test_makefile_targets_install_before_running():
    makefile = (ROOT / "Makefile").read_text()
    for target, runs in (("demo", "crm-ml demo"), ("test", "pytest")):
        assert re.search(rf"^{target}:.*\$\(STAMP\)", makefile, re.M), target
        assert runs in makefile
    assert "python -m venv" in makefile.replace("$(PYTHON)", "python")
    assert 'pip install -e ".[dev]"' in makefile
