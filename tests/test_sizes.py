"""The size floors of the package and its lab (issue 33): a maintainer reads a module, and a user
reads the benchmarks page, in one sitting."""
from pathlib import Path

import pytest

from .helpers import REPO

LIMITS = {"spacy_bilstm": 450, "benchmarks": 400}


@pytest.mark.parametrize("folder", sorted(LIMITS))
def test_no_module_is_over_its_folders_line_limit(folder):
    too_long = {str(path.relative_to(REPO)): n for path in sorted((REPO / folder).rglob("*.py"))
                if (n := len(path.read_text(encoding="utf8").splitlines())) > LIMITS[folder]}
    assert not too_long, f"over {LIMITS[folder]} lines: {too_long}; split the module by job"


def test_the_benchmarks_page_is_at_most_250_lines():
    assert len((REPO / "benchmarks" / "README.md").read_text(encoding="utf8").splitlines()) <= 250
