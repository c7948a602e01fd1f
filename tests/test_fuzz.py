"""Fuzzing the two readers of user files: the corpus converter and `process`'s input reader,
over FUZZ_CASES (default 2,000) generated inputs each (mutated real-looking files, random structure, random
bytes). The only acceptable failures are our own error types, with the file named.

Slow (about 15 s at the default count on two cores): `pytest -m slow tests/test_fuzz.py`. FUZZ_SEED and
FUZZ_CASES in the environment change the seed and the number of inputs."""
import gzip
import json
import random
import traceback

import pytest
import spacy

from spacy_bilstm.corpora import CorpusError, convert, read_corpus
from spacy_bilstm.process import ProcessError
from spacy_bilstm.process.input_records import InputFile, iter_records

from .fuzzing import N_CASES, PIECES, SEED, mutate, report

CONLL = (
    "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\ncall NN I-NP O\n\n"
    "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n"
)
BIOES = "Ann S-PER\nlives O\nin O\nNew B-LOC\nYork E-LOC\n\nBob S-PER\n"
TSV = "@user\tO\nNew\tB-location\nYork\tI-location\n\nen:Paris\tB-LOC\n"
JSONL = (
    json.dumps({"text": "Ann lives in New York.", "spans": [{"start": 0, "end": 3, "label": "PER"}, {"start": 13, "end": 21, "label": "LOC"}]})
    + "\n"
    + json.dumps({"text": "Bob", "tokens": [{"text": "Bob", "start": 0, "end": 3}], "label": [[0, 3, "PER"]]})
    + "\n"
)
SEEDS = [CONLL, BIOES, TSV, JSONL]
PROCESS_SEEDS = [
    '{"id": 1, "text": "Apple is in Paris."}\n{"text": ""}\n{"id": [1], "text": "x", "meta": {"a": null}}\n',
    "Apple is in Paris.\n\nsecond line\r\nthird\n",
]


def generated_input(rng: random.Random, seeds) -> bytes:
    kind = rng.random()
    if kind < 0.7:
        return mutate(rng, rng.choice(seeds))
    if kind < 0.9:
        return "".join(rng.choice(PIECES + ["EU", "Ann", "x"]) for _ in range(rng.randint(0, 40))).encode("utf-8", "surrogatepass")
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))


@pytest.mark.slow
def test_converter_survives_generated_inputs(tmp_path):
    rng = random.Random(SEED)
    vocab = spacy.blank("en").vocab
    unexpected, converted = [], 0
    out_dir = tmp_path / "out"
    for case in range(N_CASES):
        data = generated_input(rng, SEEDS)
        if rng.random() < 0.05:
            data = gzip.compress(data)[: rng.choice([None, rng.randint(0, 30)])]
        path = tmp_path / f"input{case % 7}{rng.choice(['.txt', '.jsonl', '.conll'])}"
        path.write_bytes(data)
        options = {
            "scheme": rng.choice(["auto"] * 6 + ["iob1", "iob2", "bioes", "biluo", "io"]),
            "repair": rng.random() < 0.3,
            "alignment": rng.choice(["strict", "expand", "contract"]),
            "format": rng.choice(["auto"] * 6 + ["columns", "jsonl"]),
        }
        try:
            result = read_corpus(path, vocab=vocab, **options)
            converted += 1
            if case % 10 == 0:  # also write a tenth of the readable ones, each output format
                convert(path, out_dir / f"out.{('spacy', 'conll', 'jsonl')[case % 3]}", to=("spacy", "conll", "jsonl")[case % 3], **options)
            assert all(len(doc) for doc in result.docs)
        except CorpusError as error:
            if error.path is not None and error.path not in (path, out_dir / "out.conll"):
                unexpected.append((data, f"CorpusError names {error.path}, not the input"))
        except Exception:
            unexpected.append((data, traceback.format_exc(limit=-4)))
    assert not unexpected, report(unexpected, N_CASES)
    # The generator must reach the converter's success path too, not only its errors.
    assert converted > N_CASES // 20


@pytest.mark.slow
def test_process_input_reader_survives_generated_inputs(tmp_path):
    rng = random.Random(SEED + 1)
    unexpected, records = [], 0
    for case in range(N_CASES):
        data = generated_input(rng, PROCESS_SEEDS)
        fmt = rng.choice(["txt", "jsonl", "jsonl"])
        compressed = rng.random() < 0.05
        path = tmp_path / (f"input{case % 7}.{fmt}" + (".gz" if compressed else ""))
        if compressed:
            data = gzip.compress(data)[: rng.choice([None, None, rng.randint(0, 30)])]
        path.write_bytes(data)
        input_file = InputFile(path, path.name, fmt, compressed)
        try:
            for record in iter_records([input_file], text_key="text", id_key="id"):
                records += 1
                assert (record.text is None) != (record.error is None) or record.words is not None
                if record.text is not None:
                    record.text.encode("utf-8")  # what the tokenizer and the writer need
                    json.dumps({"id": record.id, **record.carried}, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except ProcessError as error:
            if str(path) not in str(error):
                unexpected.append((data, f"ProcessError without the file name: {error}"))
        except Exception:
            unexpected.append((data, traceback.format_exc(limit=-4)))
    assert not unexpected, report(unexpected, N_CASES)
    assert records > N_CASES
