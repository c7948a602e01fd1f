"""Every benchmark script runs end to end in --smoke mode (a few hundred sentences, a few
training steps) on the real corpora, so that the scripts cannot rot between long studies
(marked slow: each trains through a subprocess). Everything goes to a temporary work folder;
benchmarks/results is never touched."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import spacy

from benchmarks import capped
from benchmarks import datasets
from benchmarks import fingerprints
from benchmarks import records

from .helpers import REPO, SHARED

BENCHMARKS = REPO / "benchmarks"

pytestmark = pytest.mark.skipif(
    not (SHARED / "corpora").is_dir(), reason=f"the shared data folder {SHARED} (corpora, vectors) is absent"
)


def run_script(name, *arguments, work):
    shared = [] if name == "plots.py" else ["--shared", str(SHARED)]  # plots only read results
    command = [sys.executable, "-m", f"benchmarks.{name.removesuffix('.py')}", "--smoke", *shared, "--work", str(work), *arguments]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    result.seconds = time.perf_counter() - start
    return result


def results_listing():
    results = BENCHMARKS / "results"
    return sorted(str(p) for p in results.rglob("*")) if results.exists() else []


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("benchmarks-work")


@pytest.fixture(scope="module")
def smoke_results(work):
    return work / "smoke" / "results"


@pytest.fixture(scope="module")
def accuracy_runs(work):
    before = results_listing()
    systems = run_script("accuracy.py", "--corpora", "conll2003",
                         "--systems", "bilstm_crf_vectors", "spacy_ner_efficiency", "spacy_ner_accuracy", work=work)
    corpora = run_script("accuracy.py", "--corpora", "wnut17", "wikiann-en", "--systems", "bilstm_crf_vectors",
                         work=work)
    assert results_listing() == before, "a smoke run wrote into benchmarks/results"
    return systems, corpora


EXPECTED_ACCURACY_RUNS = [
    ("conll2003", "bilstm_crf_vectors"), ("conll2003", "spacy_ner_efficiency"), ("conll2003", "spacy_ner_accuracy"),
    ("wnut17", "bilstm_crf_vectors"), ("wikiann-en", "bilstm_crf_vectors"),
]


@pytest.mark.slow
@pytest.mark.parametrize("corpus,system", EXPECTED_ACCURACY_RUNS)
def test_accuracy_smoke_writes_one_result_per_run(accuracy_runs, smoke_results, corpus, system):
    result = records.find_run(smoke_results, "accuracy", f"{corpus}__{system}__seed0")
    assert result["smoke"] is True
    assert (result["corpus"], result["system"], result["seed"]) == (corpus, system, 0)
    assert 0.0 <= result["test"]["ents_f"] <= 1.0
    assert result["test"]["words"] > 0 and result["test"]["documents"] >= 1
    assert result["data"]["train"]["sentences"] == 200
    training = result["training"]
    assert training["stopped_by"] == "config"  # smoke runs stop at max_steps long before the cap
    assert [e["step"] for e in training["dev_evaluations"]] == [0, 1, 2]
    assert training["best_dev"] in training["dev_evaluations"]
    assert result["threads"]["torch"] == 1
    assert result["machine"]["cores"] >= 1 and result["machine"]["packages"]["spacy"]
    # Every system reads the corpus as `spacy-bilstm train` does: documents, not gold_preproc's sentences.
    config = spacy.util.load_config(Path(result["run_dir"]) / "config.cfg", interpolate=False)
    assert config["corpora"]["train"]["gold_preproc"] is False and config["corpora"]["dev"]["gold_preproc"] is False


@pytest.mark.slow
def test_accuracy_smoke_prints_a_table_of_every_run_and_writes_one_file(accuracy_runs, smoke_results):
    _, corpora = accuracy_runs
    for corpus, system in EXPECTED_ACCURACY_RUNS:
        assert f"| {corpus} | {system} | 1 |" in corpora.stdout
    assert "`nlp.lang` = \"en\"" in corpora.stdout  # the table names the runs' overrides
    assert "gold_preproc" not in corpora.stdout
    assert len(records.read_runs(smoke_results, "accuracy")) == len(EXPECTED_ACCURACY_RUNS)
    assert not [path.name for path in smoke_results.iterdir() if path.suffix in (".md", ".csv")]


@pytest.mark.slow
def test_accuracy_skips_runs_already_done(accuracy_runs, work):
    again = run_script("accuracy.py", "--corpora", "wnut17", "--systems", "bilstm_crf_vectors", work=work)
    assert "done already" in again.stderr
    assert "training (cap" not in again.stderr


@pytest.mark.slow
def test_wall_clock_cap_stops_training_with_a_whole_model_best(accuracy_runs, work, tmp_path):
    data = datasets.prepare_corpus(SHARED, work, "conll2003", smoke=True)
    summary = capped.run_training(
        config_path=records.CONFIGS / "bilstm_crf.cfg", run_dir=tmp_path / "run", threads=1,
        overrides={"paths.train": str(data["train"]), "paths.dev": str(data["dev"]),
                   "training.max_steps": 100_000, "training.eval_frequency": 1},
        max_minutes=0.001, test_path=data["test"], grace_minutes=3,
    )
    assert summary["training"]["stopped_by"] == "time"
    assert summary["training"]["steps"] < 100_000
    assert (tmp_path / "run" / "model-best" / "meta.json").exists()
    assert 0.0 <= summary["test"]["ents_f"] <= 1.0


def test_reading_smoke_scores_each_study1_model_read_both_ways(accuracy_runs, work, smoke_results):
    first = run_script("reading.py", "--corpora", "wnut17", "wikiann-en", "--systems", "bilstm_crf_vectors", work=work)
    measured = json.loads((smoke_results / "reading.json").read_text())["runs"]
    assert sorted(run["corpus"] for run in measured) == ["wikiann-en", "wnut17"]
    for run in measured:
        assert 0 <= run["cut"] <= run["entities"]
        assert all(0.0 <= run[reading]["ents_f"] <= 1.0 for reading in ("sentence", "document"))
    assert "| wnut17 | bilstm_crf_vectors | 1 |" in first.stdout
    again = run_script("reading.py", "--corpora", "wnut17", "wikiann-en", "--systems", "bilstm_crf_vectors", work=work)
    assert "test F1" not in again.stderr, "a run measured before was measured again"
    assert json.loads((smoke_results / "reading.json").read_text())["runs"] == measured


@pytest.mark.slow
def test_decoding_smoke_chooses_a_bias_on_dev_and_at_zero_reproduces_study1s_test_score(
        accuracy_runs, work, smoke_results):
    first = run_script("decoding.py", "--corpora", "wnut17", "wikiann-en", "--systems", "bilstm_crf_vectors",
                       work=work)
    measured = json.loads((smoke_results / "decoding.json").read_text())
    study1 = {(r["corpus"], r["seed"]): r for r in records.read_runs(smoke_results, "accuracy")
              if r["system"] == "bilstm_crf_vectors"}
    assert sorted(run["corpus"] for run in measured["runs"]) == ["wikiann-en", "wnut17"]
    for run in measured["runs"]:
        dev_f = {float(bias): f for bias, f in run["dev_f_by_bias"].items()}
        assert run["chosen_bias"] in measured["biases"]
        assert dev_f[run["chosen_bias"]] == max(dev_f.values())
        assert run["test"]["shipped"]["ents_f"] == pytest.approx(study1[run["corpus"], run["seed"]]["test"]["ents_f"])
    assert "| wnut17 | bilstm_crf_vectors | 1 |" in first.stdout
    again = run_script("decoding.py", "--corpora", "wnut17", "wikiann-en", "--systems", "bilstm_crf_vectors",
                       work=work)
    assert "test F1" not in again.stderr, "a run measured before was measured again"
    forced = run_script("decoding.py", "--corpora", "wnut17", "--systems", "bilstm_crf_vectors", "--force", work=work)
    assert "wnut17 / bilstm_crf_vectors" in forced.stderr and "wikiann-en" not in forced.stderr
    remeasured = json.loads((smoke_results / "decoding.json").read_text())["runs"]
    assert sorted(run["corpus"] for run in remeasured) == ["wikiann-en", "wnut17"], "--force on a subset lost a row"


@pytest.fixture(scope="module")
def ablation_run(accuracy_runs, work):
    return run_script("ablations.py", "--variants", "baseline", "unidirectional", work=work)


@pytest.mark.slow
def test_ablations_smoke_records_each_variant_and_prints_a_table(ablation_run, smoke_results):
    for variant, change in (("baseline", {}), ("unidirectional", {"components.bilstm_ner.model.bidirectional": False})):
        result = records.find_run(smoke_results, "ablations", f"conll2003__{variant}__seed0")
        assert result["changes"] == change
        assert 0.0 <= result["test"]["ents_f"] <= 1.0
        assert (Path(result["run_dir"]) / "model-best" / "meta.json").exists()
    assert "| baseline |" in ablation_run.stdout and "| unidirectional | bidirectional=False |" in ablation_run.stdout


@pytest.mark.slow
def test_ablation_baseline_reuses_study1s_identical_run(ablation_run, smoke_results):
    study1 = records.find_run(smoke_results, "accuracy", "conll2003__bilstm_crf_vectors__seed0")
    baseline = records.find_run(smoke_results, "ablations", "conll2003__baseline__seed0")
    unidirectional = records.find_run(smoke_results, "ablations", "conll2003__unidirectional__seed0")
    assert baseline["reused_from"] == "accuracy.json, conll2003__bilstm_crf_vectors__seed0"
    assert baseline["test"] == study1["test"]
    assert "reused_from" not in unidirectional
    assert "reused" in ablation_run.stderr


@pytest.fixture(scope="module")
def cost_run(accuracy_runs, work, smoke_results):
    models = {system: records.find_run(smoke_results, "accuracy", f"conll2003__{system}__seed0")["model_dir"]
              for system in ("bilstm_crf_vectors", "spacy_ner_efficiency")}
    return run_script("cost.py", *[f"--model={name}={path}" for name, path in models.items()], work=work)


@pytest.mark.slow
def test_cost_smoke_measures_both_models_in_one_run(cost_run, smoke_results):
    data = json.loads((smoke_results / "cost.json").read_text())
    assert set(data["models"]) == {"bilstm_crf_vectors", "spacy_ner_efficiency"}
    for result in data["models"].values():
        assert result["inference"]["batch1"]["words_per_second"] > 0
        assert result["inference"]["batch1000"]["words_per_second"] > 0
        for size in (1, 1000):
            measured = result["inference"][f"batch{size}"]
            assert measured["first_pass_words_per_second"] > 0
            assert [m["batch_size"] for m in measured["each_round"]] == [size]  # smoke: one round
            assert 0 < measured["each_round"][0]["first_pass"]["words"] <= result["inference"]["words"]
        assert result["inference"]["words"] >= 2000
        assert result["training"]["words_per_second"] > 0
        assert result["inference"]["peak_rss_mib"] > 50
        assert result["model_size_bytes"] > 0
        assert "seconds_to_best_dev" in result["training_run"]
    assert "bilstm_crf_vectors vs spacy_ner_efficiency" in cost_run.stdout
    assert "first pass" in cost_run.stdout


@pytest.mark.slow
def test_plots_smoke_draws_every_plot(accuracy_runs, ablation_run, cost_run, work, smoke_results):
    for name in ("dev_f1_vs_time_conll2003.png", "words_per_second.png", "ablations.png"):
        (smoke_results / name).unlink(missing_ok=True)
    run_script("plots.py", work=work)
    for name in ("dev_f1_vs_time_conll2003.png", "words_per_second.png", "ablations.png"):
        assert (smoke_results / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_speed_smoke_measures_rounds_and_reports_the_floors(accuracy_runs, smoke_results, tmp_path):
    models = {system: records.find_run(smoke_results, "accuracy", f"conll2003__{system}__seed0")["model_dir"]
              for system in ("bilstm_crf_vectors", "spacy_ner_efficiency")}
    output = tmp_path / "speed.json"
    command = [
        sys.executable, "-m", "benchmarks.speed", "--smoke", "--corpus", str(SHARED / "corpora" / "conll2003" / "test.txt"),
        "--bilstm-model", models["bilstm_crf_vectors"], "--spacy-model", models["spacy_ner_efficiency"],
        "--configs", "bilstm-n1", "bilstm-n2", "spacy-ner", "--repeat", "2", "--output", str(output),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    data = json.loads(output.read_text())
    for config in ("bilstm-n1", "bilstm-n2", "spacy-ner"):
        runs = data["results"][config]["runs_words_per_second"]
        assert len(runs) == 2 and all(speed > 0 for speed in runs)
        assert data["results"][config]["words_per_second"] == min(runs)  # the lower middle of two
    assert "n_process=2 vs n_process=1" in result.stdout and "median of 2 rounds" in result.stdout


@pytest.mark.slow
def test_tuning_smoke_reports_dev_scores_only(accuracy_runs, work, smoke_results):
    run = run_script("tuning.py", "--name", "dropout0.2", "--set", "training.dropout=0.2", work=work)
    result = records.find_run(smoke_results, "tuning", "conll2003__dropout0.2__seed0")
    assert result["changes"] == {"training.dropout": 0.2}
    assert result["overrides"]["training.dropout"] == 0.2 and "corpora.train.gold_preproc" not in result["overrides"]
    table = run.stdout
    shipped = REPO / "configs" / "bilstm_crf_vectors.cfg"
    assert result["config_sha256"] == fingerprints.config_sha256(shipped)
    fingerprint = fingerprints.config_fingerprint(shipped)
    assert result["config_fingerprint"] == fingerprint
    assert f"| dropout0.2 | {fingerprint[:8]} | training.dropout=0.2 |" in table and "best dev F1" in table
    assert "test P" not in table and "test F1" not in table


def test_units_hand_the_model_documents_sentences_or_whole_documents_on_the_corpus_tokens(tmp_path):
    from spacy.tokens import Doc, DocBin
    from spacy.training import Corpus

    nlp = spacy.blank("en")
    words = ["Rain", "in", "Paris", ".", "Sun", "in", "Rome", "."]
    doc = Doc(nlp.vocab, words=words, sent_starts=[True, False, False, False, True, False, False, False],
              ents=["O", "O", "B-LOC", "O", "O", "O", "B-LOC", "O"])
    doc.has_unknown_spaces = True  # as `convert` writes a column corpus
    converted = tmp_path / "train.spacy"
    DocBin(docs=[doc]).to_disk(converted)

    assert datasets.as_units({"train": converted}, "converted") == {"train": converted}
    sentences = datasets.as_units({"train": converted}, "sentences")["train"]
    first, second = Corpus(sentences)(nlp)
    assert [t.text for t in first.predicted] == words[:4] and [t.text for t in second.predicted] == words[4:]
    assert [(e.text, e.label_) for e in second.reference.ents] == [("Rome", "LOC")]
    documents = datasets.as_units({"train": converted}, "documents")["train"]
    [example] = Corpus(documents, gold_preproc=True)(nlp)
    assert [t.text for t in example.predicted] == words
    assert [(e.text, e.label_) for e in example.reference.ents] == [("Paris", "LOC"), ("Rome", "LOC")]
    with pytest.raises(records.BenchmarkError, match="units must be one of"):
        datasets.as_units({"train": converted}, "paragraphs")


def _config_with_dropout(path, dropout, comment=""):
    text = (REPO / "configs" / "bilstm_crf.cfg").read_text()
    assert "\ndropout = 0.1\n" in text
    path.write_text(comment + text.replace("\ndropout = 0.1\n", f"\ndropout = {dropout}\n", 1))


def test_a_result_goes_stale_when_its_settings_change_not_its_comments(tmp_path):
    config = tmp_path / "model.cfg"
    _config_with_dropout(config, 0.1)
    result = {"config": str(config), **fingerprints.config_fingerprints(config)}
    legacy = {"config": str(config), "config_sha256": fingerprints.config_sha256(config)}
    unknown = {"config": str(config)}
    assert fingerprints.current_results([result, legacy, unknown]) == ([result, legacy], fingerprints.current_results([unknown])[1])
    assert fingerprints.result_is_current(result) and not fingerprints.result_is_current(unknown)

    # A comment, and leaving out a setting at spaCy's default value, change the text only.
    _config_with_dropout(config, 0.1, comment="# a new comment\n")
    default = '[nlp.vectors]\n@vectors = "spacy.Vectors.v1"\n\n'
    assert default in config.read_text()
    config.write_text(config.read_text().replace(default, ""))
    assert fingerprints.config_sha256(config) != result["config_sha256"]
    assert fingerprints.config_fingerprint(config) == result["config_fingerprint"]
    assert fingerprints.result_is_current(result)
    assert not fingerprints.result_is_current(legacy)  # results without a fingerprint compare the text

    _config_with_dropout(config, 0.2)
    assert not fingerprints.result_is_current(result)
    current, note = fingerprints.current_results([result])
    assert current == [] and "1 stored result(s) trained with an earlier version" in note
    config.unlink()
    assert not fingerprints.result_is_current(result)


def test_the_backend_setting_chooses_how_a_pipeline_runs_and_leaves_results_current(tmp_path):
    config = tmp_path / "model.cfg"
    _config_with_dropout(config, 0.1)
    result = {"config": str(config), **fingerprints.config_fingerprints(config)}
    text = config.read_text()
    assert '\nbackend = "torch"\n' in text
    config.write_text(text.replace('\nbackend = "torch"\n', '\nbackend = "onnxruntime"\n'))
    assert fingerprints.result_is_current(result)
    config.write_text(text.replace('\nbackend = "torch"\n', "\n"))  # as configs read before the setting
    assert fingerprints.result_is_current(result)


@pytest.mark.parametrize("config", sorted(p.name for p in (REPO / "configs").glob("*.cfg")))
def test_every_shipped_config_has_a_fingerprint_with_its_paths_left_unset(config):
    # The transformer config names its model by ${paths.transformer}, null as shipped: the run's
    # data, like its training file, so the fingerprint must not need it.
    if "transformer" in config:
        pytest.importorskip("spacy_transformers", reason="the transformers extra is not installed")
    recorded = fingerprints.config_fingerprints(REPO / "configs" / config)
    assert len(recorded["config_fingerprint"]) == 64


def test_every_stored_result_records_both_fingerprints():
    for path in sorted((BENCHMARKS / "results").glob("*.json")):
        data = json.loads(path.read_text())
        for run in data.get("runs", []) if isinstance(data, dict) else []:
            if isinstance(run, dict) and "config_sha256" in run:
                assert len(run.get("config_fingerprint") or "") == 64, (path, run.get("run_id"))


def test_a_run_is_skipped_only_while_its_result_is_current(tmp_path, capsys):
    config = tmp_path / "model.cfg"
    _config_with_dropout(config, 0.1)
    assert not fingerprints.is_done(tmp_path, "study", "run", force=False, label="run")
    records.store_run(tmp_path, "study", {"run_id": "run", "config": str(config),
                                          **fingerprints.config_fingerprints(config)})
    assert fingerprints.is_done(tmp_path, "study", "run", force=False, label="run")
    assert "run: done already" in capsys.readouterr().err
    assert not fingerprints.is_done(tmp_path, "study", "run", force=True, label="run")
    _config_with_dropout(config, 0.2)
    assert not fingerprints.is_done(tmp_path, "study", "run", force=False, label="run")
    assert "trained with an earlier version of model.cfg; rerunning" in capsys.readouterr().err


def test_killing_a_study_also_stops_the_training_it_waits_for(tmp_path):
    # A study runs each training in a subprocess; `kill` on the study must not leave it training on.
    child_pid_file = tmp_path / "child.pid"
    training = tmp_path / "training.py"
    training.write_text(f"import os, time\nopen({str(child_pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(120)\n")
    study = tmp_path / "study.py"
    study.write_text(
        f"import subprocess, sys\nfrom benchmarks.arguments import run_main\n"
        f"run_main(lambda: subprocess.run([sys.executable, {str(training)!r}]))\n"
    )
    process = subprocess.Popen([sys.executable, str(study)], env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 60
    while not (child_pid_file.exists() and child_pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    child_proc = Path(f"/proc/{int(child_pid_file.read_text())}")
    process.terminate()
    assert process.wait(timeout=30) == 128 + 15
    deadline = time.monotonic() + 10
    while child_proc.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not child_proc.exists(), "the training subprocess outlived its study"


def test_a_cached_conversion_follows_its_sources_content_not_its_mtime(tmp_path):
    source = tmp_path / "train.txt"
    source.write_text("EU B-ORG\n")
    stamp = datasets._source_stamp(source)
    later = time.time() + 3600
    os.utime(source, (later, later))
    assert datasets._source_stamp(source) == stamp
    source.write_text("EU B-LOC\n")
    assert datasets._source_stamp(source) != stamp


@pytest.mark.slow
def test_studies_started_together_build_the_cache_once(tmp_path):
    """Two studies started at the same moment once built the same vectors folder at once, and
    one of them crashed; the second now waits for the first and finds the cache done."""
    script = (
        "from benchmarks.datasets import prepare_vectors\n"
        "from pathlib import Path\n"
        f"print(prepare_vectors(Path({str(SHARED)!r}), Path({str(tmp_path)!r}), smoke=True))\n"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd=REPO)
        for _ in range(2)
    ]
    outputs = [process.communicate() for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    assert sum("Converting the vectors" in stderr for _, stderr in outputs) == 1
    assert spacy.load(outputs[0][0].strip()).vocab.vectors.shape[0] > 0
