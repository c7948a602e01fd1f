"""A `train` run resolves its config once into a TrainingPlan, and spaCy's loop trains on it."""
import sys
from pathlib import Path

from confection import Config

from spacy_bilstm.training import train
from spacy_bilstm.training.plan import plan_training

from ..helpers import REPO, SAMPLE_DEV, SAMPLE_TRAIN


def test_the_config_file_is_read_once_with_every_override_applied(tmp_path, monkeypatch):
    config_path = tmp_path / "user.cfg"
    config_path.write_bytes((REPO / "configs" / "bilstm_crf.cfg").read_bytes())
    reads = []
    from_disk = Config.from_disk

    def counting_from_disk(self, path, *args, **kwargs):
        if Path(path) == config_path:
            reads.append(path)
        return from_disk(self, path, *args, **kwargs)

    monkeypatch.setattr(Config, "from_disk", counting_from_disk)
    plans = []
    monkeypatch.setattr(sys.modules["spacy_bilstm.training.train"], "train_with_spacy_loop", plans.append)
    train(config_path, tmp_path / "out", train_path=SAMPLE_TRAIN, dev_path=SAMPLE_DEV, seed=3,
          overrides={"training.max_steps": 4}, log=lambda _: None)
    assert len(reads) == 1
    config = plans[0].config
    assert config["training"]["max_steps"] == 4
    assert config["training"]["seed"] == 3 and config["system"]["seed"] == 3
    # spaCy reads the converted corpus, not the raw CoNLL file it was given.
    assert config["paths"]["train"] == str(tmp_path / "out" / "corpus" / "train.spacy") == str(plans[0].train_corpus)


def test_the_plan_holds_the_config_as_spacy_will_train_with_it(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    plan = plan_training(
        REPO / "configs" / "bilstm_crf.cfg", out, train_path=SAMPLE_TRAIN, dev_path=SAMPLE_DEV,
        overrides={"components.bilstm_ner.model.hidden_width": 16}, log=lambda _: None,
    )
    assert plan.config["components"]["bilstm_ner"]["model"]["hidden_width"] == 16
    assert plan.overrides["components.bilstm_ner.model.hidden_width"] == 16
    assert plan.overrides["paths.dev"] == str(out / "corpus" / "dev.spacy") == plan.config["paths"]["dev"]
    assert plan.vectors is None and plan.vectors_attr_id is None
    assert plan.recognizers == ["bilstm_ner"]
