"""benchmarks/profile_tagging.py times the stages of a real pipeline by wrapping its objects: the
wrapped pipeline must tag as the pipeline does, and every stage's clock must run (a renamed
layer or method would otherwise leave its stage silently at zero)."""

import pytest
import spacy

from .helpers import TRAIN_DATA, load_benchmark_script, save_trained_pipeline

TINY_MODEL = {
    "hidden_width": 8,
    "tok2vec": {"width": 8, "rows": [100, 50, 50, 50], "char_filters": 4, "char_embed_width": 4, "char_rows": 32},
}


def _profile_script():
    return load_benchmark_script("profile_tagging")


def _entities(docs):
    groups = [doc.spans["bilstm_ner"] for doc in docs]
    return [[(span.start, span.end, span.label_, score) for span, score in zip(group, group.attrs["scores"])]
            for group in groups]


@pytest.fixture(scope="module")
def trained_model_dir(tmp_path_factory):
    return save_trained_pipeline(tmp_path_factory.mktemp("profile") / "model", TINY_MODEL, steps=3, sentencizer=True)


@pytest.mark.parametrize("batch_size", [1, 3])
def test_every_stage_is_timed_and_the_timed_pipeline_tags_alike(trained_model_dir, batch_size):
    profile = _profile_script()
    texts = [text for text, _ in TRAIN_DATA] * 2
    expected = _entities(spacy.load(trained_model_dir).pipe(texts))
    clock, nlp = profile.StageClock(), spacy.load(trained_model_dir)
    profile.instrument(nlp, clock)
    medians = profile.profile_stages(nlp, clock, texts, batch_size, repeats=1)
    timed = [nlp(text) for text in texts] if batch_size == 1 else list(nlp.pipe(texts, batch_size=batch_size))
    assert _entities(timed) == expected
    inner_stages = [stage for stage, parent in profile.STAGES if parent is not None]
    assert set(clock.seconds) == set(inner_stages)
    assert all(clock.seconds[stage] > 0 for stage in inner_stages)
    assert medians["total"] == pytest.approx(sum(medians[stage] for stage, _ in profile.STAGES))
