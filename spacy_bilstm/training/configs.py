"""Configs: shipped ones by name, overrides, and every check of a config that spaCy would
otherwise pass silently or fail on only after corpus conversion."""
import difflib
import importlib.resources
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Union

from catalogue import RegistryError
from spacy import util
from spacy.util import CONFIG_SECTION_ORDER
from spacy.schemas import ConfigSchema, ConfigSchemaInit, ConfigSchemaNlp, ConfigSchemaPretrain, ConfigSchemaTraining
from thinc.api import Config, ConfigValidationError

from .errors import TrainingError

PathLike = Union[str, Path]
# Sections whose keys spaCy's auto-fill would otherwise drop or shadow without a word: a typo'd
# [training.optimiser] trains with the default optimizer.
_SCHEMAS = {
    "training": ConfigSchemaTraining,
    "nlp": ConfigSchemaNlp,
    "initialize": ConfigSchemaInit,
    "pretraining": ConfigSchemaPretrain,
}
_TOP_LEVEL_SECTIONS = set(ConfigSchema.model_fields) | {"paths", "system"}
# spaCy's console loggers and how each asks for the progress bar up to the next evaluation.
_CONSOLE_PROGRESS_BAR = {
    "spacy.ConsoleLogger.v1": True,
    "spacy.ConsoleLogger.v2": True,
    "spacy.ConsoleLogger.v3": "eval",
    "spacy-bilstm.ConsoleLogger.v1": "eval",
}


def shipped_configs_dir() -> Path:
    packaged = Path(str(importlib.resources.files("spacy_bilstm") / "configs"))
    if packaged.is_dir():
        return packaged
    # A source checkout whose configs symlink did not survive (e.g. git on Windows).
    return Path(__file__).resolve().parents[2] / "configs"


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
        f"Config {str(config)!r}: no such file, and not the name of a shipped config. "
        f"Pass a config file path or one of: {', '.join(shipped_config_names())}."
    )


def load_training_config(config_path: Path, overrides: Dict[str, Any]) -> Config:
    with _config_errors(config_path):
        return util.load_config(config_path, overrides=dict(overrides), interpolate=False)


def config_with_overrides(config: Config, overrides: Dict[str, Any], config_path: Path) -> Config:
    """`config` (read from `config_path`) with `overrides` applied as spaCy applies them on
    loading, so that a bad key fails the same way, without reading the file again."""
    with _config_errors(config_path):
        return Config(section_order=CONFIG_SECTION_ORDER).from_str(
            config.to_str(), overrides=dict(overrides), interpolate=False
        )


@contextmanager
def _config_errors(config_path: Path) -> Iterator[None]:
    try:
        yield
    except ConfigValidationError as error:
        raise TrainingError(f"{config_path}: {_plain(error)}Check the config and the --section.key overrides.") from None
    except Exception as error:  # confection's parse errors carry the line
        raise TrainingError(f"{config_path}: cannot parse the config: {error}") from None


def _plain(error: Exception) -> str:
    return " ".join(str(error).split()) + " "


def _line_where(config_path: Path, matches: Callable[[str], bool]) -> str:
    """", line N" for the first line of the config that `matches`, or "" (also when unreadable)."""
    try:
        for number, line in enumerate(config_path.read_text(encoding="utf-8").splitlines(), 1):
            if matches(line):
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
    line = _line_where(config_path, lambda text: text.strip().startswith((f"[{dotted}]", f"{key} =")))
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
    line = _line_where(config_path, lambda text: f'"{missing}"' in text) if missing else ""
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


def uses_static_vectors(config: Config) -> bool:
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


def interpolated(config: Config, config_path: Path) -> Config:
    try:
        return config.interpolate()
    except Exception as error:
        raise TrainingError(f"{config_path}: a ${{section.key}} reference does not resolve: {error}") from None


def progress_bar_override(config: Config, overrides: Dict[str, Any]) -> Dict[str, Any]:
    """The override that turns on the progress bar of spaCy's console logger (the shipped configs
    have it off, for logs), unless the config uses another logger or the user set it."""
    key = "training.logger.progress_bar"
    logger = config.get("training", {}).get("logger", {})
    value = _CONSOLE_PROGRESS_BAR.get(logger.get("@loggers")) if isinstance(logger, dict) else None
    if value is None or key in overrides:
        return {}
    return {key: value}


def parse_overrides(args: List[str]) -> Dict[str, Any]:
    """spaCy's own parser for `--section.key value` extra arguments."""
    from spacy.cli._util import parse_config_overrides

    try:
        return parse_config_overrides(args)
    except SystemExit:
        raise TrainingError(
            f"Cannot read the config overrides {' '.join(args)!r}: write them as --section.key value, "
            f"e.g. --training.max_epochs 3."
        ) from None
