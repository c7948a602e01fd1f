"""`spacy-bilstm train`: spaCy's outputs from raw or converted corpora, shipped configs by name,
overrides, word vectors, Ctrl-C, and every bad input refused before training starts."""
import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import spacy
import srsly
from thinc.api import Config
from typer.testing import CliRunner

from spacy_bilstm.cli import app
from spacy_bilstm.training import TrainingError, train

from ..helpers import REPO, SAMPLE_DEV, SAMPLE_TRAIN

TRAIN, DEV = SAMPLE_TRAIN, SAMPLE_DEV
SHORT_RUN = ["--training.max_steps", "4", "--training.eval_frequency", "2"]
SHORT_OVERRIDES = {"training.max_steps": 4, "training.eval_frequency": 2}

runner = CliRunner()


def run_train(*args):
    return runner.invoke(app, ["train", *map(str, args)])


def output_of(result) -> str:
    return result.output  # stdout and stderr together


def assert_refused_before_training(result, output_dir: Path, *fragments: str) -> str:
    text = " ".join(output_of(result).split())
    assert result.exit_code == 1, text
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in: {text}"
    assert "Training pipeline" not in text
    assert not (output_dir / "model-last").exists()
    return text


def write_vectors(path: Path, words, width: int, *, header: bool = False) -> Path:
    lines = [f"{len(words)} {width}"] if header else []
    for i, word in enumerate(words):
        # Distinct rows: spaCy merges identical vectors into one row.
        lines.append(word + " " + " ".join(f"{(i + 1) / len(words) + d / width:.5f}" for d in range(width)))
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


SAMPLE_WORDS = sorted({line.split()[0].lower() for line in TRAIN.read_text(encoding="utf-8").splitlines() if line.strip()})


def test_train_from_raw_conll_writes_spacys_outputs_and_the_conversion_summary(tmp_path):
    result = run_train("bilstm_crf", "--output", tmp_path, "--train", TRAIN, "--dev", DEV, *SHORT_RUN)
    assert result.exit_code == 0, output_of(result)
    text = output_of(result)
    assert "Read " + str(TRAIN) in text and "entities    501" in text and "entities    110" in text
    for model in ("model-best", "model-last"):
        meta = srsly.read_json(tmp_path / model / "meta.json")
        assert set(meta["performance"]) >= {"ents_f", "ents_p", "ents_r"}
    assert (tmp_path / "corpus" / "train.spacy").is_file() and (tmp_path / "corpus" / "dev.spacy").is_file()
    nlp = spacy.load(tmp_path / "model-last")
    assert nlp.pipe_names == ["sentencizer", "bilstm_ner"]
    assert set(nlp.get_pipe("bilstm_ner").labels) == {"LOC", "MISC", "ORG", "PER"}


def test_train_asks_spacy_for_the_progress_bar_only_when_told(tmp_path, monkeypatch):
    seen = []
    train_module = sys.modules["spacy_bilstm.training.train"]
    monkeypatch.setattr(train_module, "train_with_spacy_loop", lambda plan: seen.append(plan.overrides))
    for progress_bar in (True, False):
        train("bilstm_crf", tmp_path / str(progress_bar), train_path=TRAIN, dev_path=DEV, log=lambda _: None,
              progress_bar=progress_bar)
    assert seen[0]["training.logger.progress_bar"] == "eval"  # up to the next evaluation
    assert "training.logger.progress_bar" not in seen[1]


def test_the_train_command_shows_the_progress_bar_only_on_a_terminal(monkeypatch):
    calls = []
    monkeypatch.setattr("spacy_bilstm.cli.train.train", lambda *args, **kwargs: calls.append(kwargs))
    result = run_train("bilstm_crf", "--output", "out")
    assert result.exit_code == 0, output_of(result)
    assert calls[0]["progress_bar"] is False  # CliRunner's stderr is not a terminal


def test_config_overrides_and_seed_reach_the_trained_pipeline(tmp_path):
    result = run_train(
        "bilstm_crf", "--output", tmp_path, "--train", TRAIN, "--dev", DEV, "--seed", "7", *SHORT_RUN,
        "--components.bilstm_ner.model.hidden_width", "16",
    )
    assert result.exit_code == 0, output_of(result)
    config = Config().from_disk(tmp_path / "model-last" / "config.cfg", interpolate=False)
    assert config["components"]["bilstm_ner"]["model"]["hidden_width"] == 16
    assert config["training"]["seed"] == 7 and config["system"]["seed"] == 7
    assert config["training"]["max_steps"] == 4


def test_the_listener_config_trains_too(tmp_path):
    train("bilstm_crf_tok2vec_listener", tmp_path, train_path=TRAIN, dev_path=DEV, overrides=SHORT_OVERRIDES, log=lambda _: None)
    assert spacy.load(tmp_path / "model-last").pipe_names == ["sentencizer", "tok2vec", "bilstm_ner"]


def test_text_vectors_are_converted_once_keyed_by_lower_and_cached(tmp_path):
    vectors = write_vectors(tmp_path / "vectors.txt.gz", SAMPLE_WORDS, 8)
    out = tmp_path / "out"
    args = ["bilstm_crf_vectors", "--output", out, "--train", TRAIN, "--dev", DEV, "--vectors", vectors, *SHORT_RUN]
    first = run_train(*args)
    assert first.exit_code == 0, output_of(first)
    assert "Vectors attribute: LOWER" in output_of(first) and "Converting the vectors" in output_of(first)
    nlp = spacy.load(out / "model-last")
    assert nlp.vocab.vectors.shape == (len(SAMPLE_WORDS), 8)
    # Lowercased vectors are keyed by ORTH with Title and UPPER aliases (no new rows), which
    # survives any re-save: "Bergen" and "BERGEN" find the "bergen" vector.
    assert nlp.vocab.vectors.attr == spacy.attrs.ORTH
    nlp.to_disk(tmp_path / "resaved")
    resaved = spacy.load(tmp_path / "resaved")
    for loaded in (nlp, resaved):
        vectors = loaded.vocab.vectors
        assert vectors.find(key="Bergen") == vectors.find(key="BERGEN") == vectors.find(key="bergen") >= 0
    second = run_train(*args)
    assert second.exit_code == 0, output_of(second)
    assert "Using the vectors converted earlier" in output_of(second)


def test_vectors_with_uppercase_keys_default_to_orth_and_the_attr_option_wins(tmp_path):
    cased = write_vectors(tmp_path / "cased.txt", ["Bergen", "the", "Monday"], 4, header=True)
    out = tmp_path / "out"
    result = run_train("bilstm_crf_vectors", "--output", out, "--train", TRAIN, "--dev", DEV, "--vectors", cased, *SHORT_RUN)
    assert result.exit_code == 0, output_of(result)
    assert "Vectors attribute: ORTH" in output_of(result)
    assert spacy.load(out / "model-last").vocab.vectors.attr == spacy.attrs.ORTH
    forced = run_train(
        "bilstm_crf_vectors", "--output", out, "--train", TRAIN, "--dev", DEV, "--vectors", cased,
        "--vectors-attr", "LOWER", *SHORT_RUN,
    )
    assert forced.exit_code == 0, output_of(forced)
    # --vectors-attr LOWER gives the ORTH table with case aliases: "BERGEN" now finds "Bergen".
    forced_vectors = spacy.load(out / "model-last").vocab.vectors
    assert forced_vectors.find(key="BERGEN") == forced_vectors.find(key="Bergen") >= 0


# --- bad input: refused with what, where, how, before training -------------------------------


def config_with(tmp_path: Path, old: str, new: str) -> Path:
    text = (REPO / "configs" / "bilstm_crf.cfg").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "edited.cfg"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_unknown_architecture_is_named_with_its_line_and_a_suggestion(tmp_path):
    config = config_with(tmp_path, '"spacy-bilstm.BiLSTMCRF.v3"', '"spacy-bilstm.BiLSTMCR.v3"')
    line = next(i for i, l in enumerate(config.read_text().splitlines(), 1) if "BiLSTMCR.v3" in l)
    out = tmp_path / "out"
    assert_refused_before_training(
        run_train(config, "--output", out, "--train", TRAIN, "--dev", DEV),
        out, f"{config}, line {line}", "'spacy-bilstm.BiLSTMCR.v3'", "Did you mean 'spacy-bilstm.BiLSTMCRF.v3'",
    )
    assert not (out / "corpus").exists()


def test_a_typod_section_that_spacy_would_silently_replace_is_refused(tmp_path):
    config = config_with(tmp_path, "[training.optimizer]", "[training.optimiser]")
    out = tmp_path / "out"
    assert_refused_before_training(
        run_train(config, "--output", out, "--train", TRAIN, "--dev", DEV),
        out, "'training.optimiser'", "Did you mean 'optimizer'", ", line ",
    )


def test_a_typod_architecture_setting_is_refused(tmp_path):
    out = tmp_path / "out"
    assert_refused_before_training(
        run_train("bilstm_crf", "--output", out, "--train", TRAIN, "--dev", DEV, "--components.bilstm_ner.model.hiden_width", "8"),
        out, "hiden_width", "does not validate",
    )


def test_missing_config_lists_the_shipped_ones(tmp_path):
    assert_refused_before_training(
        run_train("bilstm_crt", "--output", tmp_path, "--train", TRAIN, "--dev", DEV),
        tmp_path, "'bilstm_crt'", "bilstm_crf_vectors",
    )


@pytest.mark.parametrize("role", ["train", "dev"])
def test_a_missing_corpus_file_is_named(tmp_path, role):
    missing = tmp_path / "nowhere.conll"
    paths = {"train": TRAIN, "dev": DEV, role: missing}
    assert_refused_before_training(
        run_train("bilstm_crf", "--output", tmp_path / "out", "--train", paths["train"], "--dev", paths["dev"]),
        tmp_path / "out", str(missing), f"--{role}",
    )
    assert not (tmp_path / "out").exists()  # a refused run leaves nothing behind


def test_a_dev_set_without_entities_is_refused(tmp_path):
    dev = tmp_path / "dev.conll"
    dev.write_text("Nothing O\nhere O\n. O\n", encoding="utf-8")
    assert_refused_before_training(
        run_train("bilstm_crf", "--output", tmp_path / "out", "--train", TRAIN, "--dev", dev),
        tmp_path / "out", str(dev), "no entities", "--dev",
    )


def test_a_training_set_without_entities_is_refused(tmp_path):
    train = tmp_path / "train.conll"
    train.write_text("-DOCSTART- O\n\nHello O\nworld O\n\nAnother O\nline O\n", encoding="utf-8")
    assert_refused_before_training(
        run_train("bilstm_crf", "--output", tmp_path / "out", "--train", train, "--dev", DEV),
        tmp_path / "out", str(train), "no entities", "nothing to learn",
    )


def test_dev_labels_never_seen_in_training_are_listed(tmp_path):
    dev = tmp_path / "dev.conll"
    dev.write_text("Paris B-LOC\nis O\nnice O\n\nThe O\nBeatles B-BAND\nplayed O\n", encoding="utf-8")
    assert_refused_before_training(
        run_train("bilstm_crf", "--output", tmp_path / "out", "--train", TRAIN, "--dev", dev),
        tmp_path / "out", "BAND (1)", "never occur in the training corpus", "LOC, MISC, ORG, PER",
    )


def test_an_unwritable_output_directory_is_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert_refused_before_training(
        run_train("bilstm_crf", "--output", blocker / "out", "--train", TRAIN, "--dev", DEV),
        blocker, str(blocker / "out"), "cannot write",
    )


def test_vectors_for_a_config_without_static_vectors_are_refused(tmp_path):
    vectors = write_vectors(tmp_path / "v.txt", ["paris"], 4)
    assert_refused_before_training(
        run_train("bilstm_crf", "--output", tmp_path / "out", "--train", TRAIN, "--dev", DEV, "--vectors", vectors),
        tmp_path / "out", "no component of this config uses static vectors", "bilstm_crf_vectors",
    )


def test_a_vectors_config_without_vectors_is_refused(tmp_path):
    assert_refused_before_training(
        run_train("bilstm_crf_vectors", "--output", tmp_path / "out", "--train", TRAIN, "--dev", DEV),
        tmp_path / "out", "no vectors were given", "--vectors",
    )


def test_vectors_attr_must_be_lower_or_orth(tmp_path):
    vectors = write_vectors(tmp_path / "v.txt", ["paris"], 4)
    assert_refused_before_training(
        run_train("bilstm_crf_vectors", "--output", tmp_path / "out", "--train", TRAIN, "--dev", DEV,
                  "--vectors", vectors, "--vectors-attr", "NORM"),
        tmp_path / "out", "'NORM'", "LOWER or ORTH",
    )
    assert not (tmp_path / "out" / "corpus").exists()


def test_a_file_that_is_not_word_vectors_is_refused(tmp_path):
    assert_refused_before_training(
        run_train("bilstm_crf_vectors", "--output", tmp_path / "out", "--train", TRAIN, "--dev", DEV, "--vectors", DEV),
        tmp_path / "out", str(DEV), "line 1", "GloVe or word2vec",
    )


def test_vectors_whose_width_differs_from_a_resumed_model_are_refused(tmp_path):
    trained = tmp_path / "first"
    train(
        "bilstm_crf_vectors", trained, train_path=TRAIN, dev_path=DEV,
        vectors=write_vectors(tmp_path / "v8.txt", SAMPLE_WORDS, 8), overrides=SHORT_OVERRIDES, log=lambda _: None,
    )
    config = Config().from_disk(REPO / "configs" / "bilstm_crf_vectors.cfg", interpolate=False)
    config["components"]["bilstm_ner"] = {"source": str(trained / "model-last")}
    resume = tmp_path / "resume.cfg"
    config.to_disk(resume)
    out = tmp_path / "out"
    with pytest.raises(TrainingError) as refused:
        train(
            resume, out, train_path=TRAIN, dev_path=DEV, vectors=write_vectors(tmp_path / "v5.txt", SAMPLE_WORDS, 5),
            overrides=SHORT_OVERRIDES, log=lambda _: None,
        )
    message = str(refused.value)
    assert "width 5" in message and "width 8" in message and "source" in message
    assert not (out / "model-last").exists() and not (out / "vectors").exists()


@pytest.mark.slow  # trains in a subprocess
def test_ctrl_c_stops_training_and_leaves_a_loadable_model_last(tmp_path):
    out = tmp_path / "out"
    command = [
        sys.executable, "-c", "from spacy_bilstm.cli import main; main()", "train", "bilstm_crf", "--output", str(out),
        "--train", str(TRAIN), "--dev", str(DEV), "--training.max_steps", "100000", "--training.eval_frequency", "2",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "model-last" / "meta.json").exists():
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "training never saved a checkpoint"
            time.sleep(0.2)
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
    assert process.returncode == 130, output
    assert "saved in" in output and "model-last" in output
    nlp = spacy.load(out / "model-last")
    assert nlp.pipe_names == ["sentencizer", "bilstm_ner"]
    nlp("Angela Merkel visited Paris.")
