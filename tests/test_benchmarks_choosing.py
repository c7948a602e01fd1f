"""benchmarks/choosing.py: the pool bookkeeping of the selection study (fast, no training) and,
marked slow, its --smoke run end to end on the shared corpora."""
import json
import subprocess
import sys

import pytest

from .helpers import REPO, SHARED, load_benchmark_script


def choosing():
    return load_benchmark_script("choosing")


def write_selection(path, ids):
    path.write_text("".join(json.dumps({"text": "x", "meta": {"id": str(i), "rank": r}}) + "\n"
                            for r, i in enumerate(ids, 1)))


def test_the_initial_sample_is_seeded_sorted_and_distinct():
    study = choosing()
    first = study.initial_ids(100, 10, seed=3)
    assert first == study.initial_ids(100, 10, seed=3)
    assert first != study.initial_ids(100, 10, seed=4)
    assert first == sorted(set(first)) and len(first) == 10


def test_an_initial_sample_larger_than_the_corpus_is_refused():
    study = choosing()
    with pytest.raises(study.BenchmarkError, match="more than the 5 training sentences"):
        study.initial_ids(5, 6, seed=0)


def test_the_pool_is_every_sentence_not_labelled_yet_and_select_reads_it_with_ids(tmp_path):
    study = choosing()
    texts = ["Juan vive en Madrid .", "Hola .", "La ONU \" dice \" .", "Fin ."]
    pool = study.pool_ids(len(texts), [1, 3])
    assert pool == [0, 2]
    study.write_pool(texts, pool, tmp_path / "pool.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "pool.jsonl").read_text(encoding="utf8").splitlines()]
    assert lines == [{"id": "0", "text": texts[0]}, {"id": "2", "text": texts[2]}]


def test_chosen_ids_come_back_best_first_from_the_tasks_meta(tmp_path):
    study = choosing()
    write_selection(tmp_path / "selected.jsonl", [7, 2, 5])
    assert study.chosen_ids(tmp_path / "selected.jsonl", pool=[2, 5, 7, 9]) == [7, 2, 5]


@pytest.mark.parametrize("ids", [[7, 3], [7, 7]], ids=["outside the pool", "twice"])
def test_a_chosen_sentence_outside_the_pool_or_twice_is_an_error_with_its_line(tmp_path, ids):
    study = choosing()
    write_selection(tmp_path / "selected.jsonl", ids)
    with pytest.raises(study.BenchmarkError, match="selected.jsonl, line 2: sentence"):
        study.chosen_ids(tmp_path / "selected.jsonl", pool=[2, 5, 7, 9])


def test_the_floor_asks_how_few_sentences_uncertainty_needs_for_randoms_last_f1():
    study = choosing()
    runs = [{"corpus": "c", "seed": 0, "strategy": "initial", "sentences": 500, "f1": 50.0}]
    for strategy, scores in {"random": [55.0, 60.0], "uncertainty": [61.0, 63.0], "entity": [54.0, 59.0]}.items():
        runs += [{"corpus": "c", "seed": 0, "strategy": strategy, "sentences": 500 * (r + 1), "f1": f1}
                 for r, f1 in enumerate(scores, 1)]
    check = study.floor_check(runs, "c", 0, rounds=2)
    assert check["random_last_f1"] == 60.0
    assert check["sentences_to_reach"] == {"uncertainty": 1000, "entity": None}
    assert check["floor_holds"] is True


def test_the_floor_is_pending_until_randoms_last_round_is_in():
    study = choosing()
    runs = [{"corpus": "c", "seed": 0, "strategy": "initial", "sentences": 500, "f1": 50.0},
            {"corpus": "c", "seed": 0, "strategy": "random", "sentences": 1000, "f1": 52.0}]
    assert study.floor_check(runs, "c", 0, rounds=2) is None


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "corpora").is_dir(), reason=f"the shared data folder {SHARED} is absent")
def test_the_smoke_study_trains_every_round_of_every_strategy_and_resumes(tmp_path):
    command = [sys.executable, "-m", "benchmarks.choosing", "--smoke", "--shared", str(SHARED), "--work", str(tmp_path)]
    first = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert first.returncode == 0, first.stderr
    results = json.loads((tmp_path / "smoke" / "results" / "choosing.json").read_text())
    rounds = {(run["strategy"], run["round"]) for run in results["runs"]}
    assert rounds == {("initial", 0)} | {(s, r) for s in ("uncertainty", "entity", "random") for r in (1, 2)}
    assert (tmp_path / "smoke" / "results" / "choosing.png").stat().st_size > 0
    again = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert again.returncode == 0 and "training on" not in again.stderr
