"""What a training run reads besides its config, checked before the long work starts: the
output directory, the corpora (raw ones converted), the vectors' fit, the GPU. plan.py calls
these in order."""
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Callable, List, Sequence, Tuple, Union

from thinc.api import Config

from ..corpora import CorpusError, is_raw_corpus, read_corpus
from ..corpora.writers import write_docbin
from ..vectors import static_vectors_widths
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
        if not is_raw_corpus(path):
            raise TrainingError(f"{error} (the --{role} corpus)") from None
        # The reader's hint names convert's options, which train does not take.
        raise TrainingError(
            f"{error} (the --{role} corpus). train reads a raw corpus with convert's defaults; to read it "
            f"otherwise (--repair, --scheme, --tag-column, ...), convert it first: spacy-bilstm convert {path} "
            f"{role}.spacy [OPTIONS], and pass --{role} {role}.spacy"
        ) from None
    if not is_raw_corpus(path):
        return path, _labels(result.docs)
    target = output_dir / CORPUS_DIR / f"{role}.spacy"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_docbin(result.docs, target)
    log(result.summary.format_table())
    log(f"  -> {target}")
    return target, _labels(result.docs)


def check_corpus_labels(
    train_labels: Counter, dev_labels: Counter, train_path: PathLike, dev_path: PathLike,
    known_labels: Sequence[str] = (),
) -> None:
    """Refuse corpora that cannot train or select a model. `known_labels`: labels the model
    knows already (a trained pipeline it continues from), which the dev data may hold although
    the new training data does not."""
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
    unseen = sorted(set(dev_labels) - set(train_labels) - set(known_labels))
    if unseen:
        counts = ", ".join(f"{label} ({dev_labels[label]})" for label in unseen)
        raise TrainingError(
            f"{dev_path}: the dev corpus has labels that never occur in the training corpus {train_path}: "
            f"{counts}. The model cannot predict them, so they would count only as misses. Map or remove "
            f"them in the dev data, or add training examples. Training labels: {', '.join(sorted(train_labels))}"
            + (f"; the base model's: {', '.join(known_labels)}." if known_labels else ".")
        )


def check_vectors_fit(interpolated: Config, width: int, vectors_path: PathLike) -> None:
    """Vectors must have the width that any pretrained weights the (interpolated) config loads
    were trained with: sourced components (resuming from a model) and [initialize] init_tok2vec."""
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


def required_corpus_path(value: Any, role: str, config_path: Path) -> str:
    if value is None or value == "":
        raise TrainingError(
            f"No {role} corpus: pass --{role} PATH (a .spacy file or a raw corpus such as CoNLL), or set "
            f"[paths] {role} in {config_path}."
        )
    return str(value)


def check_gpu(gpu_id: int) -> None:
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
