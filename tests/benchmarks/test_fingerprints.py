"""Which stored runs a study skips as done: those trained as the study trains now."""
import pytest

from benchmarks import fingerprints, records

from ..helpers import REPO


def stored_run(results_root, study, overrides):
    config = REPO / "configs" / "bilstm_crf_vectors.cfg"
    run = {"run_id": "conll2003__bilstm_crf_vectors__seed0", "config": records.recorded_path(config),
           **fingerprints.config_fingerprints(config), "overrides": overrides}
    records.store_run(results_root, study, run)
    return run["run_id"]


@pytest.mark.parametrize("study,skipped", [("accuracy", False), ("tuning", False), ("tokenisation", True)])
def test_a_run_read_sentence_by_sentence_is_rerun_by_the_studies_that_no_longer_do(tmp_path, study, skipped):
    run_id = stored_run(tmp_path, study, {"nlp.lang": "en", "corpora.train.gold_preproc": True,
                                          "corpora.dev.gold_preproc": True})
    assert fingerprints.is_done(tmp_path, study, run_id, force=False, label="run") is skipped


def test_a_run_read_as_the_cli_reads_is_skipped_as_done(tmp_path):
    run_id = stored_run(tmp_path, "accuracy", {"nlp.lang": "en"})
    assert fingerprints.is_done(tmp_path, "accuracy", run_id, force=False, label="run")
    assert not fingerprints.is_done(tmp_path, "accuracy", run_id, force=True, label="run")
