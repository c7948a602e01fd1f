"""Every override a study's runs apply beyond `spacy-bilstm train`'s own options is listed in
benchmarks/overrides.STUDY_OVERRIDES and named in the study's README section: a study that adds
one fails here until both say so."""
import re
from pathlib import Path

import pytest

from benchmarks import ablations, overrides

from ..helpers import REPO

README = REPO / "benchmarks" / "README.md"
DATA = {"train": Path("train.spacy"), "dev": Path("dev.spacy")}


def readme_section(study: str) -> str:
    """The README's section of a study: from its heading (which names `benchmarks.<study>`) to the next."""
    text = README.read_text(encoding="utf8")
    sections = re.split(r"\n(?=## )", text)
    found = [section for section in sections if f"python -m benchmarks.{study}`" in section.splitlines()[0]]
    assert found, f"benchmarks/README.md has no section with `python -m benchmarks.{study}`"
    return found[0]


def test_a_capped_run_overrides_the_language_only():
    """What `spacy-bilstm train` sets from its options, and the corpus's language: no reading of
    the corpus (gold_preproc) that the README's command does not apply."""
    built = overrides.run_overrides(DATA, None, 0, smoke=False, lang="es")
    assert overrides.unlisted_overrides("accuracy", built) == ()
    assert {key for key in built if key not in overrides.CLI_SET_OVERRIDES} == {"nlp.lang"}


@pytest.mark.parametrize("study", sorted(set(overrides.STUDY_OVERRIDES) - {"tokenisation"}))
def test_no_study_reads_the_corpus_sentence_by_sentence(study):
    """Only study 16, which compares readings, may train on gold_preproc's sentences."""
    assert not set(overrides.GOLD_PREPROC) & set(overrides.STUDY_OVERRIDES[study])


@pytest.mark.parametrize("variant", sorted(ablations.VARIANTS))
def test_every_ablation_variant_is_listed(variant):
    built = {**overrides.run_overrides(DATA, None, 0, smoke=False), **ablations.VARIANTS[variant]}
    assert overrides.unlisted_overrides("ablations", built) == ()


def test_an_unlisted_override_is_caught():
    built = {**overrides.run_overrides(DATA, None, 0, smoke=False), "training.max_epochs": 3}
    assert overrides.unlisted_overrides("accuracy", built) == ("training.max_epochs",)


@pytest.mark.parametrize("study", sorted(overrides.STUDY_OVERRIDES))
def test_the_readme_names_every_override_a_study_may_apply(study):
    section = readme_section(study)
    missing = [key for key in overrides.STUDY_OVERRIDES[study] if key != "*" and f"`{key}`" not in section]
    assert not missing, f"benchmarks/README.md, section of {study}: name {missing}"
