"""Training on from a trained pipeline (`train --base`) and rehearsing it (`--rehearse`), refused
before training when the base or the config does not fit."""
import pytest
import spacy
from thinc.api import Config

from spacy_bilstm.training import TrainingError, train

from ..helpers import SAMPLE_DEV, SAMPLE_TRAIN


def write_conll(path, sentences):
    lines = []
    for sentence in sentences:
        lines += [f"{word} {tag}" for word, tag in sentence] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


TINY_OVERRIDES = {
    "training.max_steps": 4, "training.eval_frequency": 2, "components.bilstm_ner.model.hidden_width": 8,
    "components.bilstm_ner.model.tok2vec.width": 16,
}


def test_train_with_base_sources_the_model_and_adds_the_new_labels(tmp_path):
    log = []
    base_dir = train("bilstm_crf", tmp_path / "base", train_path=SAMPLE_TRAIN, dev_path=SAMPLE_DEV,
                     overrides=TINY_OVERRIDES, log=lambda _: None)
    base = base_dir / "model-last"
    new = write_conll(tmp_path / "new.conll", [
        [("She", "O"), ("bought", "O"), ("an", "O"), ("iPhone", "U-PRODUCT"), (".", "O")],
        [("Apple", "U-ORG"), ("sells", "O"), ("the", "O"), ("iPhone", "U-PRODUCT"), ("in", "O"), ("Paris", "U-LOC")],
    ])
    # The dev set may hold a label the base knows and the new data lacks (MISC).
    dev = write_conll(tmp_path / "dev.conll", [
        [("The", "O"), ("iPhone", "U-PRODUCT"), ("is", "O"), ("German", "U-MISC"), ("?", "O")],
    ])
    raw = tmp_path / "raw.txt"
    raw.write_text("Angela Merkel visited Paris.\nApple opened a shop in Berlin.\n", encoding="utf-8")
    out = train("bilstm_crf", tmp_path / "grown", train_path=new, dev_path=dev, base=base, rehearse=raw,
                overrides={"training.max_steps": 4, "training.eval_frequency": 2}, log=log.append)
    text = "\n".join(log)
    assert f"Base model {base} ('bilstm_ner'): labels kept: LOC, MISC, ORG, PER" in text
    assert "labels added: PRODUCT" in text
    derived = Config().from_disk(out / "config-base.cfg", interpolate=False)
    assert derived["components"]["bilstm_ner"] == {"source": str(base)}
    assert derived["training"]["before_update"]["@callbacks"] == "spacy-bilstm.Rehearse.v2"
    grown = spacy.load(out / "model-last")
    assert grown.get_pipe("bilstm_ner").labels == ("LOC", "MISC", "ORG", "PER", "PRODUCT")
    # The hash tables were sourced: the tiny widths of the base, not the config's defaults.
    assert grown.config["components"]["bilstm_ner"]["model"]["hidden_width"] == 8


def test_rehearse_without_a_sourced_component_is_refused_before_training(tmp_path):
    raw = tmp_path / "raw.txt"
    raw.write_text("Some text.\n", encoding="utf-8")
    with pytest.raises(TrainingError, match="not sourced from a trained pipeline"):
        train("bilstm_crf", tmp_path / "out", train_path=SAMPLE_TRAIN, dev_path=SAMPLE_DEV, rehearse=raw)
    assert not (tmp_path / "out").exists()


def test_base_that_is_not_a_pipeline_is_refused(tmp_path):
    with pytest.raises(TrainingError, match="not a trained pipeline directory"):
        train("bilstm_crf", tmp_path / "out", train_path=SAMPLE_TRAIN, dev_path=SAMPLE_DEV, base=tmp_path)
