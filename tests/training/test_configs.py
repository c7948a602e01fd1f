"""Configs: shipped ones by name, and the overrides that `train` adds."""
from thinc.api import Config

from spacy_bilstm.training import resolve_config_path, shipped_config_names
from spacy_bilstm.training.configs import progress_bar_override

from ..helpers import REPO


def test_the_console_loggers_progress_bar_is_turned_on_only_where_it_exists_and_was_not_set():
    def logger(name):
        return Config({"training": {"logger": {"@loggers": name, "progress_bar": False}}})

    assert progress_bar_override(logger("spacy.ConsoleLogger.v1"), {}) == {"training.logger.progress_bar": True}
    assert progress_bar_override(logger("spacy.ConsoleLogger.v3"), {}) == {"training.logger.progress_bar": "eval"}
    assert progress_bar_override(logger("spacy.WandbLogger.v5"), {}) == {}
    assert progress_bar_override(logger("spacy.ConsoleLogger.v1"), {"training.logger.progress_bar": False}) == {}


def test_shipped_configs_resolve_by_name_with_or_without_suffix():
    assert {"bilstm_crf", "bilstm_crf_vectors", "bilstm_crf_tok2vec_listener"} <= set(shipped_config_names())
    for name in ("bilstm_crf", "bilstm_crf.cfg"):
        assert resolve_config_path(name).read_bytes() == (REPO / "configs" / "bilstm_crf.cfg").read_bytes()
    assert resolve_config_path(REPO / "configs" / "bilstm_crf.cfg") == REPO / "configs" / "bilstm_crf.cfg"
