"""Training on top of spaCy's own loop (`spacy.cli.train.train`): what this module adds is
checking everything a user can get wrong before the long work starts, raw corpora and word
vectors converted on the fly, shipped configs by name, and a Ctrl-C that leaves model-last whole."""
import difflib
import importlib.resources
import signal
import threading
import uuid
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

from catalogue import RegistryError
from spacy import util
from spacy.schemas import ConfigSchema, ConfigSchemaInit, ConfigSchemaNlp, ConfigSchemaPretrain, ConfigSchemaTraining
from spacy.tokens import DocBin
from thinc.api import Config, ConfigValidationError

from .corpora import CorpusError, is_raw_corpus, read_corpus
from .corpora.writers import write_docbin
from .errors import SpacyBilstmError
from .vectors import (
    VECTOR_ATTRS, VectorsError, prepare_vectors, static_vectors_widths, vectors_cfg_attr, vectors_width, write_vectors_cfg_attr,
)

PathLike = Union[str, Path]
CORPUS_DIR = "corpus"
VECTORS_DIR = "vectors"
# Sections whose keys spaCy's auto-fill would otherwise drop or shadow without a word: a typo'd
# [training.optimiser] trains with the default optimizer.
_SCHEMAS = {
    "training": ConfigSchemaTraining,
    "nlp": ConfigSchemaNlp,
    "initialize": ConfigSchemaInit,
    "pretraining": ConfigSchemaPretrain,
}
_TOP_LEVEL_SECTIONS = set(ConfigSchema.model_fields) | {"paths", "system"}


class TrainingError(SpacyBilstmError):
    """Something the user can fix (config, data, vectors, output directory); the message says
    what is wrong, where, and what to do. Raised before training starts."""


class TrainingInterrupted(Exception):
    """Ctrl-C stopped training; `model_last` is the pipeline saved on the way out, if any."""

    def __init__(self, model_last: Optional[Path]):
        self.model_last = model_last
        super().__init__(f"training interrupted; model-last: {model_last}")


# --- configs -------------------------------------------------------------------------------


def shipped_configs_dir() -> Path:
    packaged = Path(str(importlib.resources.files("spacy_bilstm") / "configs"))
    if packaged.is_dir():
        return packaged
    # A source checkout whose configs symlink did not survive (e.g. git on Windows).
    return Path(__file__).resolve().parents[1] / "configs"


def shipped_config_names() -> List[str]:
    return sorted(path.stem for path in shipped_configs_dir().glob("*.cfg"))


def resolve_config_path(config: PathLike) -> Path:
    """A config file path, or the name of a shipped config (`bilstm_crf`, `bilstm_crf.cfg`)."""
    path = Path(config)
    if path.is_file():
        return path
    name = path.name[: -len(".cfg")] if path.name.endswith(".cfg") else path.name
    if len(path.parts) == 1 and name in shipped_config_names():
        return shipped_configs_dir() / f"{name}.cfg"
    raise TrainingError(
        f"config {str(config)!r}: no such file, and not the name of a shipped config. "
        f"Pass a config file path or one of: {', '.join(shipped_config_names())}."
    )


def load_training_config(config_path: Path, overrides: Dict[str, Any]) -> Config:
    try:
        return util.load_config(config_path, overrides=dict(overrides), interpolate=False)
    except ConfigValidationError as error:
        raise TrainingError(f"{config_path}: {_plain(error)}Check the config and the --section.key overrides.") from None
    except Exception as error:  # confection's parse errors carry the line
        raise TrainingError(f"{config_path}: cannot parse the config: {error}") from None


def _plain(error: Exception) -> str:
    return " ".join(str(error).split()) + " "


def _line_of(config_path: Path, needle: str) -> str:
    try:
        for number, line in enumerate(config_path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip().startswith(needle):
                return f", line {number}"
    except OSError:
        pass
    return ""


def _line_containing(config_path: Path, needle: str) -> str:
    try:
        for number, line in enumerate(config_path.read_text(encoding="utf-8").splitlines(), 1):
            if needle in line:
                return f", line {number}"
    except OSError:
        pass
    return ""


def check_config_sections(config: Config, config_path: Path) -> None:
    """Refuse sections and keys that spaCy would silently ignore (a typo'd section name is
    replaced by the default on auto-fill, so the user's settings would never be used)."""
    for section in config:
        if section not in _TOP_LEVEL_SECTIONS:
            raise TrainingError(_unknown_key(config_path, section, None, _TOP_LEVEL_SECTIONS))
    for section, schema in _SCHEMAS.items():
        known = set(schema.model_fields)
        for key in config.get(section, {}):
            if section == "pretraining" and not config[section]:
                break
            if key not in known:
                raise TrainingError(_unknown_key(config_path, key, section, known))


def _unknown_key(config_path: Path, key: str, section: Optional[str], known: Iterable[str]) -> str:
    dotted = f"{section}.{key}" if section else key
    line = _line_of(config_path, f"[{dotted}]") or _line_of(config_path, f"{key} =")
    guess = difflib.get_close_matches(key, sorted(known), n=1)
    where = f"[{section}]" if section else "the config"
    hint = f"Did you mean {guess[0]!r}? " if guess else ""
    return (
        f"{config_path}{line}: {dotted!r} is not a setting spaCy knows in {where}, so it would be ignored. "
        f"{hint}Known: {', '.join(sorted(known))}."
    )


def validate_config(config: Config, config_path: Path) -> Config:
    """Build the (uninitialized) pipeline and resolve [training] exactly as spaCy will, so an
    unknown architecture or a bad setting fails now rather than after corpus conversion."""
    check_config_sections(config, config_path)
    try:
        nlp = util.load_model_from_config(config, auto_fill=True, validate=True)
        util.registry.resolve(nlp.config.interpolate()["training"], schema=ConfigSchemaTraining)
    except RegistryError as error:
        raise TrainingError(_registry_message(error, config, config_path)) from None
    except ConfigValidationError as error:
        raise TrainingError(
            f"{config_path}: the config does not validate:{error}\nFix the setting named above "
            f"(or the --section.key override that set it)."
        ) from None
    except (OSError, ValueError) as error:
        raise TrainingError(f"{config_path}: cannot build the pipeline from the config: {error}") from None
    return nlp.config


def _registry_message(error: RegistryError, config: Config, config_path: Path) -> str:
    text = str(error)
    missing = text.split("'")[1] if text.count("'") >= 2 else ""
    section = next((".".join(path[:-1]) for path, value in util.walk_dict(config) if value == missing), None)
    where = f" in [{section}]" if section else ""
    line = _line_containing(config_path, f'"{missing}"') if missing else ""
    registry_name = text.split("registry '")[1].split("'")[0] if "registry '" in text else "the registry"
    try:
        available = sorted(getattr(util.registry, registry_name).get_all())
    except Exception:
        available = []
    guess = difflib.get_close_matches(missing, available, n=1)
    hint = f"Did you mean {guess[0]!r}? " if guess else ""
    ours = [name for name in available if name.startswith("spacy-bilstm.")]
    return (
        f"{config_path}{line}{where}: unknown {registry_name} function {missing!r}. {hint}"
        + (f"spacy-bilstm provides: {', '.join(ours)}. " if ours else "")
        + "Fix the name, or install the package that registers it."
    )


def _uses_static_vectors(config: Config) -> bool:
    """True if a component's model reads static vectors, including components sourced from
    a trained pipeline (whose settings are in that pipeline's config.cfg)."""
    components = dict(config.get("components", {}))
    for name, block in list(components.items()):
        source = block.get("source") if isinstance(block, dict) else None
        source_config = Path(str(source)) / "config.cfg" if source else None
        if source_config is not None and source_config.is_file():
            sourced = util.load_config(source_config, interpolate=False)
            components[name] = sourced.get("components", {}).get(block.get("component", name), {})
    for path, value in util.walk_dict(components):
        if path[-1] == "include_static_vectors" and value is True:
            return True
        if path[-1].startswith("@") and isinstance(value, str) and value.startswith("spacy.StaticVectors"):
            return True
    return False


# --- output directory and corpora ------------------------------------------------------------


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
    corpus, with its summary logged) and its entity counts per label."""
    path = Path(path)
    if not path.exists():
        raise TrainingError(f"{path}: no such {role} corpus. Check the --{role} path.")
    if is_raw_corpus(path):
        try:
            result = read_corpus(path, lang=lang)
        except CorpusError as error:
            raise TrainingError(f"{error} (the --{role} corpus)") from None
        target = output_dir / CORPUS_DIR / f"{role}.spacy"
        target.parent.mkdir(parents=True, exist_ok=True)
        write_docbin(result.docs, target)
        log(result.summary.format_table())
        log(f"  -> {target}")
        return target, _labels(result.docs)
    files = [path] if path.is_file() else sorted(path.rglob("*.spacy"))
    if not files:
        raise TrainingError(f"{path}: the --{role} directory holds no .spacy files nor corpus files.")
    blank = util.get_lang_class(lang)()
    labels: Counter = Counter()
    for file in files:
        try:
            labels.update(_labels(DocBin().from_disk(file).get_docs(blank.vocab)))
        except Exception as error:
            raise TrainingError(
                f"{file}: cannot read it as a spaCy DocBin ({type(error).__name__}: {error}). "
                f"Convert the corpus with `spacy-bilstm convert`, or pass the raw corpus file."
            ) from None
    return path, labels


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


# --- vectors -----------------------------------------------------------------------------------


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


# --- Ctrl-C ---------------------------------------------------------------------------------------


@contextmanager
def _finish_saving_on_interrupt(log: Callable[[str], None]):
    """The first Ctrl-C stops training (spaCy's loop then saves model-last in its `finally`);
    further presses are ignored until that save is done, so it cannot be cut half-way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    interrupted: List[bool] = []

    def on_interrupt(signum, frame):
        if interrupted:
            log("Still saving model-last; it will be complete in a moment.")
            return
        interrupted.append(True)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# --- the command ----------------------------------------------------------------------------------


def train(
    config: PathLike,
    output_path: PathLike,
    *,
    train_path: Optional[PathLike] = None,
    dev_path: Optional[PathLike] = None,
    vectors: Optional[PathLike] = None,
    vectors_attr: Optional[str] = None,
    seed: Optional[int] = None,
    gpu_id: int = -1,
    overrides: Optional[Dict[str, Any]] = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Check everything, convert what needs converting, then train with spaCy's loop.
    Returns the output directory (with model-best, model-last). Raises TrainingError for bad
    input, before any conversion or training, and TrainingInterrupted on Ctrl-C."""
    from spacy.cli.train import train as spacy_train

    config_path = resolve_config_path(config)
    created = not Path(output_path).exists()
    output_dir = prepare_output_dir(output_path)
    try:
        overrides = _checked_inputs(
            config_path, output_dir, train_path, dev_path, vectors, vectors_attr, seed, gpu_id, dict(overrides or {}), log
        )
    except TrainingError:
        if created and not any(output_dir.iterdir()):
            output_dir.rmdir()  # a refused run leaves nothing behind
        raise
    vectors_attr_id = vectors_cfg_attr(overrides["paths.vectors"]) if "paths.vectors" in overrides else None
    try:
        with _finish_saving_on_interrupt(log):
            try:
                spacy_train(config_path, output_dir, use_gpu=gpu_id, overrides=overrides)
            finally:
                if vectors_attr_id is not None:
                    for model_dir in (output_dir / "model-last", output_dir / "model-best"):
                        write_vectors_cfg_attr(model_dir, vectors_attr_id)
    except KeyboardInterrupt:
        model_last = output_dir / "model-last"
        raise TrainingInterrupted(model_last if (model_last / "config.cfg").exists() else None) from None
    return output_dir


def _checked_inputs(
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
) -> Dict[str, Any]:
    """Every check, then the corpus and vectors conversions; returns the overrides that point
    spaCy's training at the converted files."""
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
        if not _uses_static_vectors(user_config):
            raise TrainingError(
                f"{config_path}: vectors were given ({vectors_path}) but no component of this config uses "
                f"static vectors, so they would be loaded and ignored. Use the shipped config "
                f"bilstm_crf_vectors, or add --components.bilstm_ner.model.tok2vec.include_static_vectors true."
            )
    elif _uses_static_vectors(user_config) and not _interpolated(user_config, config_path).get("initialize", {}).get("vectors"):
        raise TrainingError(
            f"{config_path}: the config uses static vectors (include_static_vectors = true) but no vectors "
            f"were given. Pass --vectors (e.g. glove.6B.50d.txt.gz), or use the shipped config bilstm_crf."
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
    return overrides


def _interpolated(config: Config, config_path: Path) -> Config:
    try:
        return config.interpolate()
    except Exception as error:
        raise TrainingError(f"{config_path}: a ${{section.key}} reference does not resolve: {error}") from None


def _required_corpus_path(value: Any, role: str, config_path: Path) -> str:
    if value is None or value == "":
        raise TrainingError(
            f"no {role} corpus: pass --{role} PATH (a .spacy file or a raw corpus such as CoNLL), or set "
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


def parse_overrides(args: List[str]) -> Dict[str, Any]:
    """spaCy's own parser for `--section.key value` extra arguments."""
    from spacy.cli._util import parse_config_overrides

    try:
        return parse_config_overrides(args)
    except SystemExit:
        raise TrainingError(
            f"cannot read the config overrides {' '.join(args)!r}: write them as --section.key value, "
            f"e.g. --training.max_epochs 3."
        ) from None
