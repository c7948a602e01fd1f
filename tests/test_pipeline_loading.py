"""Loading a damaged, mismatched or hostile pipeline directory: every case gives a clear
error naming the file and what to do, `process` exits 1 and writes nothing, and loading never
executes code from the directory."""
import io
import json
import pickle
import random
import shutil
from pathlib import Path

import pytest
import spacy
import srsly
import torch
from typer.testing import CliRunner

from spacy_bilstm.errors import ModelLoadError
from spacy_bilstm.cli import app

from .helpers import save_trained_pipeline

TINY_MODEL = {
    "hidden_width": 16,
    "tok2vec": {"width": 16, "rows": [200, 100, 100, 100], "char_filters": 8, "char_embed_width": 8, "char_rows": 64},
}
LABELS = ["LOC", "ORG", "PER"]


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> Path:
    return save_trained_pipeline(tmp_path_factory.mktemp("pipeline") / "model", TINY_MODEL, steps=3)


@pytest.fixture
def model_copy(saved_model, tmp_path) -> Path:
    path = tmp_path / "model"
    shutil.copytree(saved_model, path)
    return path


def weights_file(model_dir: Path) -> Path:
    return model_dir / "bilstm_ner" / "model"


def replace_torch_states(model_dir: Path, state: bytes) -> int:
    """Put `state` where each torch module's weights are: the component's `model` file is a
    thinc msgpack whose shims are PyTorchShim.to_bytes() msgpacks {"config", "state"}."""
    path = weights_file(model_dir)
    msg = srsly.msgpack_loads(path.read_bytes())
    replaced = 0
    for shims in msg["shims"]:
        for i, shim_bytes in enumerate(shims):
            shim = srsly.msgpack_loads(shim_bytes)
            shim["state"] = state
            shims[i] = srsly.msgpack_dumps(shim)
            replaced += 1
    path.write_bytes(srsly.msgpack_dumps(msg))
    return replaced


class CreatesMarkerWhenUnpickled:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def load_error(model_dir: Path) -> str:
    with pytest.raises(ModelLoadError) as info:
        spacy.load(model_dir)
    return str(info.value)


def run_process_cli(model_dir: Path, tmp_path: Path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"text": "I like London."}) + "\n")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["process", str(model_dir), str(source), str(out), "--quiet"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert not out.exists(), "a pipeline that fails to load must leave no output behind"
    return result.stderr


def test_the_saved_pipeline_loads_and_predicts(saved_model):
    nlp = spacy.load(saved_model)
    assert nlp.get_pipe("bilstm_ner").labels == tuple(LABELS)
    assert len(nlp("I like London and Berlin.")) == 6


# --- untrusted files ----------------------------------------------------------------------


@pytest.mark.parametrize("wrap_in_torch_save", [True, False], ids=["torch.save", "bare-pickle"])
def test_malicious_pickle_in_weights_is_refused_and_never_executed(model_copy, tmp_path, wrap_in_torch_save):
    marker = tmp_path / "code-was-executed"
    payload = {"encoder.weight": CreatesMarkerWhenUnpickled(marker)}
    if wrap_in_torch_save:
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        state = buffer.getvalue()
    else:
        state = pickle.dumps(payload)
    # The payload is live: an ordinary unpickler would create the marker.
    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(CreatesMarkerWhenUnpickled(proof))).close()
    assert proof.exists()

    assert replace_torch_states(model_copy, state) == 2  # the BiLSTM tagger and the char CNN
    message = load_error(model_copy)
    assert str(weights_file(model_copy)) in message
    assert "Refused to load the torch weights" in message and "could run code" in message
    assert "weights_only` set to `False`" not in message  # torch's advice to disable the check is not passed on
    assert not marker.exists()

    stderr = run_process_cli(model_copy, tmp_path)
    assert "Refused to load the torch weights" in stderr and str(weights_file(model_copy)) in stderr
    assert not marker.exists()


def test_weights_load_only_tensors_even_through_from_bytes(saved_model, tmp_path):
    marker = tmp_path / "code-was-executed"
    nlp = spacy.load(saved_model)
    data = nlp.get_pipe("bilstm_ner").to_bytes()
    msg = srsly.msgpack_loads(data)
    model = srsly.msgpack_loads(msg["model"])
    for shims in model["shims"]:
        for i, shim_bytes in enumerate(shims):
            shim = srsly.msgpack_loads(shim_bytes)
            shim["state"] = pickle.dumps(CreatesMarkerWhenUnpickled(marker))
            shims[i] = srsly.msgpack_dumps(shim)
    msg["model"] = srsly.msgpack_dumps(model)
    fresh = spacy.load(saved_model)
    with pytest.raises(ModelLoadError, match="Refused to load the torch weights"):
        fresh.get_pipe("bilstm_ner").from_bytes(srsly.msgpack_dumps(msg))
    assert not marker.exists()


# --- missing, truncated, corrupted weights -----------------------------------------------


def test_missing_weights_file_names_the_path(model_copy, tmp_path):
    weights_file(model_copy).unlink()
    message = load_error(model_copy)
    assert f"no weights at {weights_file(model_copy)}" in message and "incomplete" in message
    assert "no weights at" in run_process_cli(model_copy, tmp_path)


def test_missing_component_directory_names_it(model_copy):
    shutil.rmtree(model_copy / "bilstm_ner")
    message = load_error(model_copy)
    assert f"the component's directory {model_copy / 'bilstm_ner'} is missing" in message


@pytest.mark.parametrize("keep", [0, 1, 10, 100, 0.5, 0.99])
def test_truncated_weights_are_a_clear_error(model_copy, keep):
    path = weights_file(model_copy)
    data = path.read_bytes()
    cut = keep if isinstance(keep, int) else int(len(data) * keep)
    path.write_bytes(data[:cut])
    message = load_error(model_copy)
    assert str(path) in message
    assert "truncated or corrupted" in message and ("Restore" in message or "retrain" in message)


def test_truncated_torch_state_inside_an_intact_file_is_a_clear_error(model_copy):
    path = weights_file(model_copy)
    msg = srsly.msgpack_loads(path.read_bytes())
    shim = srsly.msgpack_loads(msg["shims"][next(i for i, s in enumerate(msg["shims"]) if s)][0])
    replace_torch_states(model_copy, shim["state"][: len(shim["state"]) // 2])
    message = load_error(model_copy)
    assert str(path) in message and "torch weights could not be read" in message and "truncated or corrupted" in message


@pytest.mark.parametrize("seed", range(5))
def test_corrupted_weights_file_is_a_clear_error(model_copy, seed):
    path = weights_file(model_copy)
    size = len(path.read_bytes())
    path.write_bytes(random.Random(seed).randbytes(size))
    message = load_error(model_copy)
    assert str(path) in message and "truncated or corrupted" in message


def test_weights_of_a_different_architecture_do_not_fit(model_copy):
    config = model_copy / "config.cfg"
    config.write_text(config.read_text().replace("hidden_width = 16", "hidden_width = 24"))
    message = load_error(model_copy)
    assert str(weights_file(model_copy)) in message
    assert "do not fit this model" in message and "size mismatch" in message


# --- a different label set ----------------------------------------------------------------


def edit_cfg_labels(model_dir: Path, labels) -> None:
    path = model_dir / "bilstm_ner" / "cfg"
    cfg = srsly.read_json(path)
    cfg["labels"] = labels
    srsly.write_json(path, cfg)


@pytest.mark.parametrize(
    "labels",
    [["LOC", "ORG", "PERSON"], ["ORG", "LOC", "PER"], ["LOC", "ORG"], ["LOC", "ORG", "PER", "MISC"]],
    ids=["renamed", "reordered", "fewer", "more"],
)
def test_cfg_labels_that_disagree_with_the_weights_labels_are_refused(model_copy, tmp_path, labels):
    # The weights remember the labels they were trained for; renamed or reordered labels would
    # load and silently give entities the wrong labels.
    edit_cfg_labels(model_copy, labels)
    message = load_error(model_copy)
    assert str(weights_file(model_copy)) in message
    assert f"trained for the labels {LABELS}, but its cfg lists {labels}" in message
    assert "wrong labels" in run_process_cli(model_copy, tmp_path)


def test_from_bytes_with_another_label_set_says_so(saved_model):
    nlp = spacy.load(saved_model)
    data = srsly.msgpack_loads(nlp.get_pipe("bilstm_ner").to_bytes())
    data["cfg"] = srsly.json_dumps({**srsly.json_loads(data["cfg"]), "labels": ["LOC"]})
    with pytest.raises(ModelLoadError, match=r"trained for the labels \['LOC', 'ORG', 'PER'\], but its cfg lists"):
        spacy.load(saved_model).get_pipe("bilstm_ner").from_bytes(srsly.msgpack_dumps(data))


@pytest.mark.parametrize(
    "content,fragment",
    [("{not json", "is not valid JSON"), ('{"labels": "PER"}', '"labels" is a list'), ('{"labels": ["PER", "PER"]}', "distinct"), ("[]", "JSON object")],
)
def test_damaged_cfg_names_its_path(model_copy, content, fragment):
    cfg_path = model_copy / "bilstm_ner" / "cfg"
    cfg_path.write_text(content)
    message = load_error(model_copy)
    assert str(cfg_path) in message and fragment in message


# --- a different version, a missing component ---------------------------------------------


def test_config_naming_an_architecture_version_that_does_not_exist(model_copy, tmp_path):
    config = model_copy / "config.cfg"
    config.write_text(config.read_text().replace("spacy-bilstm.BiLSTMCRF.v3", "spacy-bilstm.BiLSTMCRF.v9"))
    with pytest.raises(Exception, match="spacy-bilstm.BiLSTMCRF.v9"):
        spacy.load(model_copy)
    stderr = run_process_cli(model_copy, tmp_path)
    assert "spacy-bilstm.BiLSTMCRF.v9" in stderr and str(model_copy) in stderr


def test_meta_naming_a_component_the_pipeline_lacks_is_refused_by_process(model_copy, tmp_path):
    meta_path = model_copy / "meta.json"
    meta = srsly.read_json(meta_path)
    meta["pipeline"] = ["bilstm_ner", "entity_linker"]
    meta["components"] = ["bilstm_ner", "entity_linker"]
    srsly.write_json(meta_path, meta)
    stderr = run_process_cli(model_copy, tmp_path)
    assert "'entity_linker'" in stderr and "meta.json" in stderr and "restore it" in stderr


def test_config_naming_a_component_without_a_factory(model_copy, tmp_path):
    config = model_copy / "config.cfg"
    text = config.read_text().replace('pipeline = ["bilstm_ner"]', 'pipeline = ["bilstm_ner","extra"]')
    config.write_text(text + '\n[components.extra]\nfactory = "no_such_factory"\n')
    stderr = run_process_cli(model_copy, tmp_path)
    assert "no_such_factory" in stderr and str(model_copy) in stderr


def test_failed_load_keeps_an_existing_output_under_overwrite(model_copy, tmp_path):
    weights_file(model_copy).write_bytes(b"\x00" * 10)
    source = tmp_path / "in.txt"
    source.write_text("I like London.\n")
    out = tmp_path / "out.jsonl"
    out.write_text('{"id":"earlier run","entities":[]}\n')
    result = CliRunner().invoke(app, ["process", str(model_copy), str(source), str(out), "--overwrite", "--quiet"])
    assert result.exit_code == 1
    assert out.read_text() == '{"id":"earlier run","entities":[]}\n'
