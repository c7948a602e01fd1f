"""Everything a training run reads, checked before the long work starts: the output directory,
the corpora (raw ones converted), the vectors (converted and cached), the GPU."""
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from thinc.api import Config

from ..corpora import CorpusError, is_raw_corpus, read_corpus
from ..corpora.writers import write_docbin
from ..vectors import VECTOR_ATTRS, VectorsError, prepare_vectors, static_vectors_widths, vectors_width
from .configs import interpolated, load_training_config, progress_bar_override, uses_static_vectors, validate_config
from .errors import TrainingError

PathLike = Union[str, Path]
CORPUS_DIR = "corpus"
VECTORS_DIR = "vectors"


def prepare_output_dir(output_path: PathLike) -> Path:
    output_path = Path(output_path)
    probe = output_path / f".spacy-bilstm-write-test-{uuid.uuid4().hex}"
    try:
        output_path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise TrainingError(
            f"{output_path}: cannot write to the output directory ({error.strerror or error}). "
            f"Choose a directory you can write to with --output."
        ) from None
    return output_path


def _labels(docs) -> Counter:
    return Counter(ent.label_ for doc in docs for ent in doc.ents)


def prepare_corpus(
    path: PathLike, output_dir: Path, role: str, *, lang: str, log: Callable[[str], None] = print
) -> Tuple[Path, Counter]:
    """A DocBin path for `path` (converted into `output_dir/corpus/<role>.spacy` when it is a raw
    corpus, with its summary logged; a DocBin is used as it is) and its entity counts per label."""
    path = Path(path)
    if not path.exists():
        raise TrainingError(f"{path}: no such {role} corpus. Check the --{role} path.")
    try:
        result = read_corpus(path, lang=lang)
    except CorpusError as error:
        raise TrainingError(f"{error} (the --{role} corpus)") from None
    if not is_raw_corpus(path):
        return path, _labels(result.docs)
    target = output_dir / CORPUS_DIR / f"{role}.spacy"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_docbin(result.docs, target)
    log(result.summary.format_table())
    log(f"  -> {target}")
    return target, _labels(result.docs)


def check_corpus_labels(train_labels: Counter, dev_labels: Counter, train_path: PathLike, dev_path: PathLike) -> None:
    if not sum(train_labels.values()):
        raise TrainingError(
            f"{train_path}: the training corpus has no entities, so there is nothing to learn. "
            f"Check the tag column (--tag-column when converting) and the file."
        )
    if not sum(dev_labels.values()):
        raise TrainingError(
            f"{dev_path}: the dev corpus has no entities, so every score would be zero and "
            f"model-best meaningless. Pass an annotated dev set with --dev."
        )
    unseen = sorted(set(dev_labels) - set(train_labels))
    if unseen:
        counts = ", ".join(f"{label} ({dev_labels[label]})" for label in unseen)
        raise TrainingError(
            f"{dev_path}: the dev corpus has labels that never occur in the training corpus {train_path}: "
            f"{counts}. The model cannot predict them, so they would count only as misses. Map or remove "
            f"them in the dev data, or add training examples. Training labels: {', '.join(sorted(train_labels))}."
        )


def check_vectors_fit(config: Config, width: int, vectors_path: PathLike) -> None:
    """Vectors must have the width that any pretrained weights the config loads were trained
    with: sourced components (resuming from a model) and [initialize] init_tok2vec."""
    interpolated = config.interpolate()
    sources: List[Tuple[str, Path]] = []
    for name, block in interpolated.get("components", {}).items():
        source = block.get("source") if isinstance(block, dict) else None
        if source:
            component = block.get("component", name)
            sources.append((f"[components.{name}] source = {source}", Path(source) / component / "model"))
    init_tok2vec = interpolated.get("initialize", {}).get("init_tok2vec")
    if init_tok2vec:
        sources.append((f"[initialize] init_tok2vec = {init_tok2vec}", Path(init_tok2vec)))
    for where, weights in sources:
        if not weights.is_file():
            continue  # spaCy reports a missing source itself; its weights are not ours to guess
        trained = sorted(set(static_vectors_widths(weights.read_bytes())))
        if trained and trained != [width]:
            raise TrainingError(
                f"{vectors_path}: these vectors have width {width}, but the weights loaded by {where} were "
                f"trained with vectors of width {trained[0]}. Pass the vectors that model was trained with, "
                f"or train from scratch without the pretrained weights."
            )


def checked_inputs(
    config_path: Path,
    output_dir: Path,
    train_path: Optional[PathLike],
    dev_path: Optional[PathLike],
    vectors: Optional[PathLike],
    vectors_attr: Optional[str],
    seed: Optional[int],
    gpu_id: int,
    overrides: Dict[str, Any],
    log: Callable[[str], None],
    progress_bar: bool = False,
) -> Dict[str, Any]:
    """Every check, then the corpus and vectors conversions; returns the overrides that point
    spaCy's training at the converted files (and turn on the console logger's progress bar)."""
    if train_path is not None:
        overrides["paths.train"] = str(train_path)
    if dev_path is not None:
        overrides["paths.dev"] = str(dev_path)
    if vectors is not None:
        overrides["paths.vectors"] = str(vectors)
    user_config = load_training_config(config_path, overrides)
    if seed is not None:
        overrides["training.seed"] = seed
        if "seed" in user_config.get("system", {}):
            overrides["system.seed"] = seed
        user_config = load_training_config(config_path, overrides)
    paths = user_config.get("paths", {})
    train_path = _required_corpus_path(paths.get("train"), "train", config_path)
    dev_path = _required_corpus_path(paths.get("dev"), "dev", config_path)
    for role, path in (("train", train_path), ("dev", dev_path)):
        if not Path(path).exists():
            raise TrainingError(f"{path}: no such {role} corpus. Check the --{role} path.")
    lang = user_config.get("nlp", {}).get("lang", "en")

    vectors_path = paths.get("vectors")
    if vectors_path is not None:
        try:
            width = vectors_width(vectors_path)
        except VectorsError as error:
            raise TrainingError(str(error)) from None
        check_vectors_fit(user_config, width, vectors_path)
        if not uses_static_vectors(user_config):
            raise TrainingError(
                f"{config_path}: vectors were given ({vectors_path}) but no component of this config uses "
                f"static vectors, so they would be loaded and ignored. Use the shipped config "
                f"bilstm_crf_vectors, or add --components.bilstm_ner.model.tok2vec.include_static_vectors true."
            )
    elif uses_static_vectors(user_config) and not interpolated(user_config, config_path).get("initialize", {}).get("vectors"):
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
    if gpu_id >= 0:
        _check_gpu(gpu_id)
    validate_config(user_config, config_path)

    train_spacy, train_labels = prepare_corpus(train_path, output_dir, "train", lang=lang, log=log)
    dev_spacy, dev_labels = prepare_corpus(dev_path, output_dir, "dev", lang=lang, log=log)
    check_corpus_labels(train_labels, dev_labels, train_path, dev_path)
    overrides["paths.train"] = str(train_spacy)
    overrides["paths.dev"] = str(dev_spacy)
    if vectors_path is not None:
        try:
            prepared = prepare_vectors(vectors_path, output_dir / VECTORS_DIR, lang=lang, attr=vectors_attr, log=log)
        except VectorsError as error:
            raise TrainingError(str(error)) from None
        overrides["paths.vectors"] = str(prepared)
    if progress_bar:
        overrides.update(progress_bar_override(user_config, overrides))
    return overrides


def _required_corpus_path(value: Any, role: str, config_path: Path) -> str:
    if value is None or value == "":
        raise TrainingError(
            f"No {role} corpus: pass --{role} PATH (a .spacy file or a raw corpus such as CoNLL), or set "
            f"[paths] {role} in {config_path}."
        )
    return str(value)


def _check_gpu(gpu_id: int) -> None:
    try:
        import torch

        available = torch.cuda.device_count()
    except Exception:
        available = 0
    if gpu_id >= available:
        raise TrainingError(
            f"--gpu-id {gpu_id}: this machine has {available} usable GPU(s) for PyTorch. "
            f"Use --gpu-id -1 to train on the CPU, or install a CUDA build of torch."
        )
