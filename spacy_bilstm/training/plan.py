"""One `train` run resolved once, before the long work starts: the config is read from disk
once, derived for --base/--rehearse, overridden, interpolated and checked once, then the
corpora and vectors are converted. Everything after (spaCy's loop, the vectors attribute fix,
the --base report) reads the resulting TrainingPlan instead of the config file."""
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

from thinc.api import Config

from ..vectors import VECTOR_ATTRS, VectorsError, prepare_vectors, vectors_cfg_attr, vectors_width
from .base import derive_config, describe_base, recognizer_names, sourced_labels
from .configs import (
    config_with_overrides, interpolated, load_training_config, progress_bar_override, uses_static_vectors,
    validate_config,
)
from .errors import TrainingError
from .preparation import (
    VECTORS_DIR, check_corpus_labels, check_gpu, check_vectors_fit, prepare_corpus, required_corpus_path,
)

PathLike = Union[str, Path]


@dataclass(frozen=True)
class TrainingPlan:
    """config: what spaCy trains with, every override applied (not interpolated); overrides:
    those overrides, the converted corpora and vectors included; train_corpus, dev_corpus: the
    DocBins spaCy reads; vectors: the prepared vectors pipeline, and vectors_attr_id its lookup
    attribute, which spaCy's save drops (see vectors.py); recognizers: the bilstm_ner components."""

    config_path: Path
    output_dir: Path
    config: Config
    overrides: Dict[str, Any]
    train_corpus: Path
    dev_corpus: Path
    vectors: Optional[Path]
    vectors_attr_id: Optional[int]
    recognizers: List[str]
    gpu_id: int


def plan_training(
    config_path: Path, output_dir: Path, *, train_path: Optional[PathLike] = None, dev_path: Optional[PathLike] = None,
    vectors: Optional[PathLike] = None, vectors_attr: Optional[str] = None, seed: Optional[int] = None,
    gpu_id: int = -1, overrides: Optional[Dict[str, Any]] = None, log: Callable[[str], None] = print,
    progress_bar: bool = False, base: Optional[PathLike] = None, rehearse: Optional[PathLike] = None,
) -> TrainingPlan:
    """Every check, then the corpus and vectors conversions (train's arguments, the config
    resolved to a path and the output directory made). Raises TrainingError before converting
    anything when an input is wrong."""
    config = load_training_config(config_path, {})  # the one read of the file
    if base is not None or rehearse is not None:
        config = derive_config(
            config, config_path, output_dir, base=base, rehearse=rehearse, vectors_given=vectors is not None
        )
    recognizers = recognizer_names(config)
    if base is not None:
        log(describe_base(base, recognizers))
    overrides = _command_line_overrides(config, dict(overrides or {}), train_path, dev_path, vectors, seed)
    config = config_with_overrides(config, overrides, config_path)
    resolved = interpolated(config, config_path)
    paths = config.get("paths", {})
    train_path = required_corpus_path(paths.get("train"), "train", config_path)
    dev_path = required_corpus_path(paths.get("dev"), "dev", config_path)
    for role, path in (("train", train_path), ("dev", dev_path)):
        if not Path(path).exists():
            raise TrainingError(f"{path}: no such {role} corpus. Check the --{role} path.")
    vectors_path = paths.get("vectors")
    _check_vectors(config, resolved, config_path, vectors_path, vectors_attr)
    if gpu_id >= 0:
        check_gpu(gpu_id)
    validate_config(config, config_path)

    lang = config.get("nlp", {}).get("lang", "en")
    train_corpus, train_labels = prepare_corpus(train_path, output_dir, "train", lang=lang, log=log)
    dev_corpus, dev_labels = prepare_corpus(dev_path, output_dir, "dev", lang=lang, log=log)
    check_corpus_labels(train_labels, dev_labels, train_path, dev_path, sourced_labels(config, recognizers))
    converted: Dict[str, Any] = {"paths.train": str(train_corpus), "paths.dev": str(dev_corpus)}
    prepared_vectors = None
    if vectors_path is not None:
        try:
            prepared_vectors = prepare_vectors(
                vectors_path, output_dir / VECTORS_DIR, lang=lang, attr=vectors_attr, log=log
            )
        except VectorsError as error:
            raise TrainingError(str(error)) from None
        converted["paths.vectors"] = str(prepared_vectors)
    if progress_bar:
        converted.update(progress_bar_override(config, overrides))
    for key, value in converted.items():
        _set_dotted(config, key, value)
    return TrainingPlan(
        config_path=config_path, output_dir=output_dir, config=config, overrides={**overrides, **converted},
        train_corpus=train_corpus, dev_corpus=dev_corpus, vectors=prepared_vectors,
        vectors_attr_id=vectors_cfg_attr(prepared_vectors) if prepared_vectors is not None else None,
        recognizers=recognizers, gpu_id=gpu_id,
    )


def _command_line_overrides(
    config: Config, overrides: Dict[str, Any], train_path: Optional[PathLike], dev_path: Optional[PathLike],
    vectors: Optional[PathLike], seed: Optional[int],
) -> Dict[str, Any]:
    """The user's --section.key overrides with --train, --dev, --vectors and --seed added;
    --seed also sets [system] seed where the config (or an override) has one."""
    for key, value in (("paths.train", train_path), ("paths.dev", dev_path), ("paths.vectors", vectors)):
        if value is not None:
            overrides[key] = str(value)
    if seed is not None:
        overrides["training.seed"] = seed
        if "seed" in config.get("system", {}) or "system.seed" in overrides:
            overrides["system.seed"] = seed
    return overrides


def _check_vectors(
    config: Config, resolved: Config, config_path: Path, vectors_path: Optional[str], vectors_attr: Optional[str]
) -> None:
    if vectors_path is not None:
        try:
            width = vectors_width(vectors_path)
        except VectorsError as error:
            raise TrainingError(str(error)) from None
        check_vectors_fit(resolved, width, vectors_path)
        if not uses_static_vectors(config):
            raise TrainingError(
                f"{config_path}: vectors were given ({vectors_path}) but no component of this config uses "
                f"static vectors, so they would be loaded and ignored. Use the shipped config "
                f"bilstm_crf_vectors, or add --components.bilstm_ner.model.tok2vec.include_static_vectors true."
            )
    elif uses_static_vectors(config) and not resolved.get("initialize", {}).get("vectors"):
        raise TrainingError(
            f"{config_path}: the config uses static vectors (include_static_vectors = true) but no vectors "
            f"were given. Pass --vectors (e.g. glove.6B.50d.txt.gz), or train without vectors: the shipped "
            f"config bilstm_crf, or for bilstm_crf_transformer "
            f"--components.bilstm_ner.model.tok2vec.include_static_vectors false."
        )
    if vectors_attr is not None:
        if vectors_path is None:
            raise TrainingError("--vectors-attr was given without --vectors. Pass the vectors file too.")
        if vectors_attr.upper() not in VECTOR_ATTRS:
            raise TrainingError(f"--vectors-attr {vectors_attr!r}: choose {' or '.join(VECTOR_ATTRS)}.")
        if Path(vectors_path).is_dir():
            raise TrainingError(
                f"--vectors-attr applies to vector text files only: the vectors in {vectors_path} were converted "
                f"with their lookup attribute already. Leave --vectors-attr out, or pass the text file."
            )


def _set_dotted(config: Config, key: str, value: Any) -> None:
    """Set `section.sub.key` in place, as a --section.sub.key override would."""
    *sections, name = key.split(".")
    block = config
    for section in sections:
        block = block[section]
    block[name] = value
