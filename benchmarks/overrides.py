"""The config overrides of the studies' runs, in one place, so that every study table can name
them and a test can pin them (tests/benchmarks/test_overrides.py).

`spacy-bilstm train` itself sets the data, the vectors and the seed from its options
(CLI_SET_OVERRIDES). Everything else a study's run overrides is listed per study in
STUDY_OVERRIDES; a study that adds an override fails that test until the list (and with it the
study's table and its README section) names it."""
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

# What `spacy-bilstm train --train --dev --vectors --seed` sets: not protocol choices of a study.
CLI_SET_OVERRIDES = ("paths.train", "paths.dev", "paths.vectors", "system.seed", "training.seed")

# The shipped BiLSTM-CRF configs (configs/<name>.cfg), each a study-1 system of the same name.
BILSTM_CRF_CONFIGS = ("bilstm_crf_vectors", "bilstm_crf", "bilstm_crf_transformer")

# spaCy's reading of a corpus sentence by sentence. The studies' runs train on what `convert`
# wrote, whole documents on the corpus's own tokens, as `spacy-bilstm train` does; study 16 reads
# corpora this way too, as one of the readings it compares. Runs stored before the studies
# dropped it (study 1's, among others) were made with it, and their records list it.
GOLD_PREPROC = {"corpora.train.gold_preproc": True, "corpora.dev.gold_preproc": True}

# Smoke mode: a few steps, enough to exercise every code path.
SMOKE_TRAINING = {"training.max_steps": 2, "training.eval_frequency": 1}

# Study 11's "documents" units: the LSTM reads whole documents, with no sentencizer to cut them.
DOCUMENT_UNIT_OVERRIDES: Dict[str, Any] = {"nlp.pipeline": ["bilstm_ner"], "training.annotating_components": []}

_CAPPED = ("nlp.lang",)
_MODEL = "components.bilstm_ner.model"
# Per study, the override keys its runs may apply beyond CLI_SET_OVERRIDES (smoke mode adds
# SMOKE_TRAINING to any). "*": the study takes free --set KEY=VALUE settings, each shown in its
# table's "changes" column.
STUDY_OVERRIDES: Dict[str, Tuple[str, ...]] = {
    "accuracy": (*_CAPPED, "paths.transformer"),
    "ablations": (*_CAPPED, f"{_MODEL}.bidirectional", f"{_MODEL}.output", f"{_MODEL}.tok2vec.include_char_cnn",
                  f"{_MODEL}.tok2vec.include_static_vectors", f"{_MODEL}.tok2vec.attrs", f"{_MODEL}.tok2vec.rows",
                  f"{_MODEL}.depth"),
    "tuning": (*_CAPPED, "paths.transformer", *DOCUMENT_UNIT_OVERRIDES, "*"),
    "incomplete": _CAPPED,
    "choosing": ("nlp.lang", "training.max_steps", "training.eval_frequency"),
    "growth": ("nlp.lang", "training.max_steps", "training.patience", "training.eval_frequency",
               "training.logger.output_file"),
    # gold_preproc is the reading under study (its `gold_sentences` runs), not a protocol setting.
    "tokenisation": ("nlp.lang", "training.max_steps", "training.eval_frequency", *GOLD_PREPROC),
}


def unlisted_overrides(study: str, overrides: Dict[str, Any]) -> Tuple[str, ...]:
    """The keys of `overrides` that `study` does not list (empty: all are allowed)."""
    allowed = set(STUDY_OVERRIDES[study]) | set(CLI_SET_OVERRIDES) | set(SMOKE_TRAINING)
    if "*" in allowed:
        return ()
    return tuple(sorted(key for key in overrides if key not in allowed))


def run_overrides(data: Dict[str, Path], vectors: Optional[Path], seed: int, *, smoke: bool,
                  lang: str = "en") -> Dict[str, Any]:
    """The overrides of a capped study run: the data, the vectors and the seed (what the CLI's
    options set) and the corpus's language. `vectors` None: a run with no static vectors in its
    vocab."""
    overrides: Dict[str, Any] = {
        "paths.train": str(data["train"]), "paths.dev": str(data["dev"]),
        "paths.vectors": None if vectors is None else str(vectors), "nlp.lang": lang, "system.seed": seed,
    }
    if smoke:
        overrides.update(SMOKE_TRAINING)
    return overrides


def spacy_ner_config(optimize: str, work: Path, *, vectors: bool = True) -> Path:
    """spaCy's own `init config -p ner -o <optimize>` config, given static vectors (unless
    `vectors` is false), written to <work>/configs/. It reads the corpus as ours do: whole
    documents, on the tokens `convert` kept."""
    from spacy.cli.init_config import init_config

    config = init_config(lang="en", pipeline=["ner"], optimize=optimize, gpu=False, silent=True)
    config["components"]["tok2vec"]["model"]["embed"]["include_static_vectors"] = vectors
    config["paths"]["vectors"] = None
    path = work / "configs" / f"spacy_ner_{optimize}{'' if vectors else '_no_vectors'}.cfg"
    path.parent.mkdir(parents=True, exist_ok=True)
    config.to_disk(path)
    return path
