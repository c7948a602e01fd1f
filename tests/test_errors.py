"""The error policy: every error a user can cause is a SpacyBilstmError (one `except` catches
them all), the package never raises a bare ValueError or TypeError, and the error classes are
importable from the package itself."""
import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
import spacy

import spacy_bilstm
from spacy_bilstm import ConfigError, LabelError, ScoreError, SpacyBilstmError, TrainingInterrupted, threads
from spacy_bilstm.calibration import expected_calibration_error, threshold_range
from spacy_bilstm.corpora import spans_to_tags

PACKAGE_DIR = Path(spacy_bilstm.__file__).parent
BARE_ERRORS = ("ValueError", "TypeError")


def bare_raises(source: str) -> List[int]:
    """The lines of `source` that raise a plain ValueError or TypeError (called or not)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and node.exc is not None:
            raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(raised, ast.Name) and raised.id in BARE_ERRORS:
                lines.append(node.lineno)
    return sorted(lines)


def test_the_check_finds_bare_raises_and_passes_the_packages_own_classes():
    source = (
        "def f(x):\n"
        "    if x:\n"
        "        raise ValueError('bad')\n"
        "    raise TypeError\n"
        "def g():\n"
        "    try:\n"
        "        pass\n"
        "    except ValueError:\n"
        "        raise\n"
        "    raise ConfigError('bad setting')\n"
    )
    assert bare_raises(source) == [3, 4]


def test_the_package_raises_no_bare_value_or_type_error():
    found = [
        f"{path.relative_to(PACKAGE_DIR.parent)}:{line}"
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
        for line in bare_raises(path.read_text(encoding="utf-8"))
    ]
    assert not found, (
        "Raise a SpacyBilstmError subclass (spacy_bilstm/errors.py; ConfigError for a bad setting) for an "
        "error the user can fix, or RuntimeError for a broken internal invariant, at: " + ", ".join(found)
    )


def _exception_classes_of_the_package():
    for module_info in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="spacy_bilstm."):
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                yield value


def test_every_exception_class_of_the_package_is_a_user_error_but_the_interruption():
    classes = set(_exception_classes_of_the_package())
    assert TrainingInterrupted in classes
    outside = {cls.__qualname__ for cls in classes if not issubclass(cls, SpacyBilstmError)}
    assert outside == {"TrainingInterrupted"}


def test_the_package_exports_its_error_classes():
    exported = {name: getattr(spacy_bilstm, name) for name in spacy_bilstm.__all__ if name.endswith("Error")}
    assert {"SpacyBilstmError", "ConfigError", "CorpusError", "TrainingError", "ProcessError"} <= set(exported)
    assert all(issubclass(cls, SpacyBilstmError) for cls in exported.values())
    assert "TrainingInterrupted" in spacy_bilstm.__all__
    assert not issubclass(TrainingInterrupted, SpacyBilstmError)
    with pytest.raises(AttributeError, match="NoSuchError"):
        spacy_bilstm.NoSuchError  # noqa: B018


def test_importing_the_package_does_not_load_the_modules_of_its_lazily_exported_errors():
    probe = (
        "import sys, spacy_bilstm\n"
        "print(sorted(m for m in ('spacy_bilstm.corpora', 'spacy_bilstm.training', 'spacy_bilstm.process',\n"
        "    'spacy_bilstm.evaluation', 'spacy_bilstm.packaging', 'spacy_bilstm.vectors') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            cwd=PACKAGE_DIR.parent)
    assert result.stdout.strip() == "[]"


def _added_label(label):
    spacy.blank("en").add_pipe("bilstm_ner").add_label(label)


@pytest.mark.parametrize(
    "cause, error_class, message",
    [
        (lambda: threads.set_threads(0), ConfigError, "at least 1"),
        (lambda: spacy.blank("en").add_pipe("bilstm_ner", config={"threshold": 2.0}), ConfigError, "threshold"),
        (lambda: threshold_range(0.5, 0.1, 0.1), ConfigError, "below the first"),
        (lambda: spans_to_tags([], 3, "bilou"), ConfigError, "unknown tag scheme"),
        (lambda: _added_label(""), LabelError, "non-empty strings"),
        (lambda: expected_calibration_error([], []), ScoreError, "undefined"),
    ],
    ids=["threads", "threshold", "thresholds", "scheme", "label", "scores"],
)
def test_user_errors_have_their_class_and_are_caught_by_the_base_and_as_value_errors(cause, error_class, message):
    with pytest.raises(error_class, match=message) as caught:
        cause()
    assert isinstance(caught.value, SpacyBilstmError) and isinstance(caught.value, ValueError)
