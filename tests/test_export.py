"""`spacy-bilstm export --to onnx` and the component setting backend = "onnxruntime": the
exported pipeline tags as torch does (same entities, scores within 1e-5), loads with torch by
default, and every way it cannot run says what to do."""
import builtins
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from typer.testing import CliRunner

from spacy_bilstm.backends import GRAPHS_DIR, GRAPHS_INDEX
from spacy_bilstm.cli import app
from spacy_bilstm.errors import ModelLoadError
from spacy_bilstm.export import ExportError, export_pipeline
from spacy_bilstm.layers import onnx_runtime
from spacy_bilstm.packaging import package

from .helpers import REPO, TRAIN_DATA, make_examples, save_trained_pipeline

for _package in ("onnx", "onnxruntime"):
    pytest.importorskip(_package, reason='the ONNX extra is not installed: pip install ".[onnx]"')

TINY_MODEL = {
    "hidden_width": 12,
    "tok2vec": {"width": 16, "rows": [200, 100, 100, 100], "char_filters": 8, "char_embed_width": 8, "char_rows": 64},
}
ONNXRUNTIME = {"components": {"bilstm_ner": {"backend": "onnxruntime"}}}
TEXTS = [text for text, _ in TRAIN_DATA] + [
    "",
    "Berlin",
    "Tim Cook and Angela Merkel met the United Nations in London, then flew to Geneva on Monday.",
    "Shaka Khan likes Cupertino. Apple likes Shaka Khan.",
]


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory) -> Path:
    # A high learning rate: a few steps to a model that predicts entities.
    return save_trained_pipeline(
        tmp_path_factory.mktemp("trained") / "model", TINY_MODEL, steps=12, sentencizer=True, learn_rate=0.02
    )


@pytest.fixture(scope="module")
def exported_model(trained_model, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("exported") / "model"
    export_pipeline(trained_model, output, log=lambda _: None)
    return output


def tagged(nlp, texts=TEXTS):
    """Each text's entities and scores, every text alone and all in one batch."""
    alone = [nlp(text) for text in texts]
    batched = list(nlp.pipe(texts, batch_size=len(texts)))
    return [
        [(span.start_char, span.end_char, span.label_, score)
         for span, score in zip(doc.spans["bilstm_ner"], doc.spans["bilstm_ner"].attrs["scores"])]
        for doc in alone + batched
    ]


def assert_same_entities_and_close_scores(got, expected, tolerance=1e-5):
    assert [[span[:3] for span in doc] for doc in got] == [[span[:3] for span in doc] for doc in expected]
    differences = [abs(a[3] - b[3]) for doc_a, doc_b in zip(got, expected) for a, b in zip(doc_a, doc_b)]
    assert max(differences) <= tolerance


def runs_on_onnxruntime(nlp) -> bool:
    layers = onnx_runtime.exportable_layers(nlp.get_pipe("bilstm_ner").model)
    return bool(layers) and all(onnx_runtime.graph_in_use(layer) is not None for layer in layers)


def test_onnxruntime_backend_tags_as_torch_does(exported_model):
    with_torch = spacy.load(exported_model)
    with_onnxruntime = spacy.load(exported_model, config=ONNXRUNTIME)
    assert not runs_on_onnxruntime(with_torch)
    assert runs_on_onnxruntime(with_onnxruntime)
    expected = tagged(with_torch)
    assert sum(map(len, expected)) > 0, "the tiny model predicts no entity: the comparison would be empty"
    assert_same_entities_and_close_scores(tagged(with_onnxruntime), expected)


def test_on_onnxruntime_a_texts_scores_do_not_depend_on_its_batch(exported_model):
    nlp = spacy.load(exported_model, config=ONNXRUNTIME)
    alone_and_batched = tagged(nlp)
    assert alone_and_batched[: len(TEXTS)] == alone_and_batched[len(TEXTS):]


def test_export_writes_one_graph_per_torch_layer_one_for_the_word_features_and_their_index(
    exported_model, trained_model
):
    graphs = exported_model / "bilstm_ner" / GRAPHS_DIR
    assert sorted(path.name for path in graphs.iterdir()) == [
        "bilstm_tagger.onnx", "char_cnn.onnx", GRAPHS_INDEX, "word_features.onnx",
    ]
    assert not (trained_model / "bilstm_ner" / GRAPHS_DIR).exists()


def test_an_export_without_a_word_features_graph_loads_and_tags_the_same(exported_model, tmp_path):
    # As exports made before the word features had a graph: they run in thinc then.
    model = tmp_path / "model"
    shutil.copytree(exported_model, model)
    graphs = model / "bilstm_ner" / GRAPHS_DIR
    (graphs / "word_features.onnx").unlink()
    index = json.loads((graphs / GRAPHS_INDEX).read_text())
    del index["graphs"]["word_features.onnx"]
    (graphs / GRAPHS_INDEX).write_text(json.dumps(index))
    nlp = spacy.load(model, config=ONNXRUNTIME)
    word_layers = [layer for layer in onnx_runtime.exportable_layers(nlp.get_pipe("bilstm_ner").model)
                   if not onnx_runtime.is_torch_layer(layer)]
    assert [onnx_runtime.graph_in_use(layer) for layer in word_layers] == [None]
    assert_same_entities_and_close_scores(tagged(nlp), tagged(spacy.load(exported_model)))
    nlp.to_disk(tmp_path / "saved")
    assert sorted(path.name for path in (tmp_path / "saved" / "bilstm_ner" / GRAPHS_DIR).iterdir()) == [
        "bilstm_tagger.onnx", "char_cnn.onnx", GRAPHS_INDEX,
    ]


def test_a_config_saved_without_the_backend_setting_loads_with_torch(exported_model, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(exported_model, model)
    config = (model / "config.cfg").read_text()
    assert 'backend = "torch"' in config
    (model / "config.cfg").write_text(config.replace('backend = "torch"\n', ""))
    nlp = spacy.load(model)
    assert nlp.get_pipe("bilstm_ner").backend == "torch"
    assert not runs_on_onnxruntime(nlp)


def test_onnxruntime_backend_without_graphs_says_to_export(trained_model):
    with pytest.raises(ModelLoadError, match="spacy-bilstm export") as error:
        spacy.load(trained_model, config=ONNXRUNTIME)
    assert str(trained_model / "bilstm_ner" / GRAPHS_DIR / GRAPHS_INDEX) in str(error.value)


def test_graphs_of_other_weights_are_refused(exported_model, trained_model, tmp_path):
    nlp = spacy.load(trained_model)
    optimizer = nlp.resume_training()
    nlp.update(make_examples(nlp), sgd=optimizer)
    model = tmp_path / "model"
    nlp.to_disk(model)
    shutil.copytree(exported_model / "bilstm_ner" / GRAPHS_DIR, model / "bilstm_ner" / GRAPHS_DIR)
    with pytest.raises(onnx_runtime.StaleGraphError, match="exported from other weights"):
        spacy.load(model, config=ONNXRUNTIME)


def test_a_pipeline_running_on_onnxruntime_saves_its_graphs(exported_model, tmp_path):
    nlp = spacy.load(exported_model, config=ONNXRUNTIME)
    nlp.to_disk(tmp_path / "again")
    reloaded = spacy.load(tmp_path / "again", config=ONNXRUNTIME)
    assert runs_on_onnxruntime(reloaded)
    assert_same_entities_and_close_scores(tagged(reloaded, TEXTS[:3]), tagged(nlp, TEXTS[:3]), tolerance=0.0)


def test_training_a_pipeline_that_runs_on_onnxruntime_stops_its_graphs(exported_model):
    nlp = spacy.load(exported_model, config=ONNXRUNTIME)
    nlp.update(make_examples(nlp), sgd=nlp.resume_training())
    with pytest.raises(onnx_runtime.StaleGraphError, match="backend \"torch\" to train"):
        nlp("Tim Cook likes Berlin.")


def test_an_unknown_backend_is_refused(exported_model):
    with pytest.raises(ValueError, match="backend must be one of 'torch', 'onnxruntime', got 'tensorrt'"):
        spacy.load(exported_model, config={"components": {"bilstm_ner": {"backend": "tensorrt"}}})


@pytest.fixture
def without_onnxruntime(monkeypatch):
    real_import = builtins.__import__

    def refusing_import(name, *args, **kwargs):
        if name.split(".")[0] in ("onnx", "onnxruntime"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refusing_import)


def test_without_onnxruntime_the_backend_says_what_to_install(exported_model, without_onnxruntime):
    with pytest.raises(onnx_runtime.OnnxRuntimeMissingError, match=r'pip install "spacy-bilstm\[onnx\]"'):
        spacy.load(exported_model, config=ONNXRUNTIME)


def test_without_onnx_export_says_what_to_install(trained_model, tmp_path, without_onnxruntime):
    with pytest.raises(onnx_runtime.OnnxRuntimeMissingError, match=r'pip install "spacy-bilstm\[onnx\]"'):
        export_pipeline(trained_model, tmp_path / "out", log=lambda _: None)
    assert not (tmp_path / "out").exists()


def test_export_cli_quantizes_to_int8(trained_model, exported_model, tmp_path):
    onnx = pytest.importorskip("onnx")
    output = tmp_path / "int8"
    result = CliRunner().invoke(app, ["export", str(trained_model), str(output), "--to", "onnx", "--quantize", "int8"])
    assert result.exit_code == 0, result.output
    assert "backend" in result.output
    tagger_graph = onnx.load(str(output / "bilstm_ner" / GRAPHS_DIR / "bilstm_tagger.onnx"))
    assert {"DynamicQuantizeLSTM", "MatMulInteger"} & {node.op_type for node in tagger_graph.graph.node}
    quantized = spacy.load(output, config=ONNXRUNTIME)
    assert runs_on_onnxruntime(quantized)
    # int8 weights move the scores a little; the tags of this tiny model's clear cases stay.
    assert_same_entities_and_close_scores(tagged(quantized, TEXTS[:3]), tagged(spacy.load(exported_model), TEXTS[:3]),
                                          tolerance=0.1)


def test_export_can_make_onnxruntime_the_copys_default_backend(trained_model, exported_model, tmp_path):
    output = tmp_path / "out"
    result = CliRunner().invoke(app, ["export", str(trained_model), str(output), "--backend", "onnxruntime"])
    assert result.exit_code == 0, result.output
    nlp = spacy.load(output)
    assert nlp.get_pipe("bilstm_ner").backend == "onnxruntime"
    assert runs_on_onnxruntime(nlp)
    assert_same_entities_and_close_scores(tagged(nlp, TEXTS[:3]), tagged(spacy.load(exported_model), TEXTS[:3]))


@pytest.mark.parametrize("arguments,message", [
    (["--to", "tflite"], "formats are onnx"),
    (["--quantize", "int4"], "choose one of int8"),
    (["--backend", "tensorrt"], "choose one of torch, onnxruntime"),
])
def test_export_cli_refuses_bad_options(trained_model, tmp_path, arguments, message):
    result = CliRunner().invoke(app, ["export", str(trained_model), str(tmp_path / "out"), *arguments])
    assert result.exit_code == 1
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_export_refuses_to_overwrite_without_force(trained_model, exported_model, tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    with pytest.raises(ExportError, match="--force"):
        export_pipeline(trained_model, output, log=lambda _: None)
    export_pipeline(trained_model, output, force=True, log=lambda _: None)
    assert (output / "bilstm_ner" / GRAPHS_DIR / GRAPHS_INDEX).is_file()


TAG_WITH_ONNXRUNTIME = """
import json, sys, spacy
from spacy_bilstm.layers import onnx_runtime
nlp = spacy.load(sys.argv[1], config={"components": {"bilstm_ner": {"backend": "onnxruntime"}}})
layers = onnx_runtime.exportable_layers(nlp.get_pipe("bilstm_ner").model)
assert layers and all(onnx_runtime.graph_in_use(layer) is not None for layer in layers)
docs = [nlp(text) for text in json.loads(sys.argv[2])]
print(json.dumps([[[s.start_char, s.end_char, s.label_, score] for s, score in
                   zip(d.spans["bilstm_ner"], d.spans["bilstm_ner"].attrs["scores"])] for d in docs]))
"""


@pytest.mark.slow
def test_an_exported_pipeline_packages_and_the_installed_package_runs_on_onnxruntime(exported_model, tmp_path):
    result = package(exported_model, tmp_path / "packages", name="onnx_ner", version="0.0.1", log=lambda _: None)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target",
                    str(site), str(result.wheel)], check=True)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    done = subprocess.run([sys.executable, "-c", TAG_WITH_ONNXRUNTIME, result.name, json.dumps(TEXTS)],
                          capture_output=True, text=True, env=environment, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    from_package = [[tuple(span[:3]) + (span[3],) for span in doc] for doc in json.loads(done.stdout)]
    from_source = tagged(spacy.load(exported_model))[: len(TEXTS)]
    assert_same_entities_and_close_scores(from_package, from_source)
