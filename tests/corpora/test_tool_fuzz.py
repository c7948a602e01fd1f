"""Fuzzing the annotation-tool readers (Label Studio, Prodigy, brat) and the tool writers with
mutated exports (a quarter of FUZZ_CASES): the only acceptable failure is a CorpusError
naming the file read.

Slow: `pytest -m slow tests/corpora/test_tool_fuzz.py`; FUZZ_SEED and FUZZ_CASES as in
tests/test_fuzz.py."""
import random
import traceback
from pathlib import Path

import pytest
import spacy

from spacy_bilstm.corpora import CorpusError, read_corpus, write_docs

from ..fuzzing import N_CASES, SEED, mutate, report

SAMPLE = Path(__file__).resolve().parents[2] / "corpora" / "sample"
OUTPUTS = ("labelstudio", "prodigy", "jsonl", "conll", "brat")


@pytest.mark.slow
def test_tool_readers_survive_generated_inputs(tmp_path):
    rng = random.Random(SEED + 2)
    vocab = spacy.blank("en").vocab
    seeds = {
        "labelstudio": [(SAMPLE / "labelstudio.json").read_text()],
        "prodigy": [(SAMPLE / "prodigy.jsonl").read_text()],
        "brat": [(SAMPLE / "brat" / name).read_text() for name in ("cycling.ann", "ledger.ann")],
    }
    brat_text = (SAMPLE / "brat" / "cycling.txt").read_text()
    unexpected, read = [], 0
    for case in range(N_CASES // 4):
        kind = rng.choice(sorted(seeds))
        data = mutate(rng, rng.choice(seeds[kind]))
        if kind == "brat":
            (tmp_path / "doc.txt").write_text(brat_text)
            path = tmp_path / "doc.ann"
        else:
            path = tmp_path / ("a.json" if kind == "labelstudio" else "a.jsonl")
        path.write_bytes(data)
        options = {
            "format": rng.choice(["auto", kind]),
            "alignment": rng.choice(["strict", "expand", "contract"]),
            "overlaps": rng.choice(["error", "keep-longest", "keep-first"]),
            "discontinuous": rng.choice(["error", "span", "drop"]),
        }
        try:
            result = read_corpus(path, vocab=vocab, **options)
            read += 1
            if case % 5 == 0:
                to = OUTPUTS[case % len(OUTPUTS)]
                write_docs(result.docs, tmp_path / f"out-{to}", to)
        except CorpusError as error:
            if error.path not in (path, None):
                unexpected.append((data, f"CorpusError names {error.path}, not the input"))
        except Exception:
            unexpected.append((data, traceback.format_exc(limit=-4)))
    assert not unexpected, report(unexpected, N_CASES // 4)
    assert read > N_CASES // 200
