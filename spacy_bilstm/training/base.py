"""Training on from a trained pipeline (`spacy-bilstm train --base MODEL`) and rehearsal
(`--rehearse RAW_TEXT`): the config is rewritten the way a spaCy user would write it by hand.

--base sources every component of the config's pipeline that the base pipeline has (`source =
MODEL` in its block: spaCy copies it with its weights, and its hash tables), and keeps the
base's vectors ([initialize] vectors = MODEL). spaCy does not initialize sourced components
again: the labels only the new data has are grown into the trained component as their first
examples arrive (BiLSTMEntityRecognizer.add_label). --rehearse adds the spacy-bilstm.Rehearse.v2
callback to [training] before_update.
"""
from pathlib import Path
from typing import Dict, List, Optional, Union

import srsly
from thinc.api import Config

from .configs import uses_static_vectors
from .errors import TrainingError

PathLike = Union[str, Path]
DERIVED_CONFIG_NAME = "config-base.cfg"
FACTORY = "bilstm_ner"


def recognizer_names(config: Config) -> List[str]:
    """The config's components built by the bilstm_ner factory, or sourced from one."""
    return [
        name for name, block in config.get("components", {}).items()
        if isinstance(block, dict) and (block.get("factory") == FACTORY or _sources_a_recognizer(name, block))
    ]


def _sources_a_recognizer(name: str, block: Dict) -> bool:
    source_config = Path(str(block.get("source", ""))) / "config.cfg"
    if "source" not in block or not source_config.is_file():
        return False
    components = Config().from_disk(source_config, interpolate=False).get("components", {})
    return components.get(block.get("component", name), {}).get("factory") == FACTORY


def base_labels(base: Path, component: str) -> List[str]:
    """The labels of `component` in the base pipeline, as its cfg lists them."""
    cfg_path = base / component / "cfg"
    try:
        labels = srsly.read_json(cfg_path)["labels"]
    except (OSError, ValueError, KeyError, TypeError):
        raise TrainingError(
            f"{cfg_path}: cannot read the labels of '{component}' in the base pipeline. Pass a trained pipeline "
            f"directory (model-best or model-last) with --base."
        ) from None
    return list(labels)


def sourced_labels(config: Config, recognizers: List[str]) -> List[str]:
    """The labels the config's sourced bilstm_ner components (among `recognizers`, from
    recognizer_names) already know (their base pipelines' cfg): new data need not show them for
    the model to predict them."""
    labels: List[str] = []
    for name in recognizers:
        block = config["components"][name]
        if "source" in block:
            labels.extend(label for label in base_labels(Path(str(block["source"])), block.get("component", name))
                          if label not in labels)
    return labels


def _base_pipeline(base: Path) -> List[str]:
    config_path = base / "config.cfg"
    if not config_path.is_file():
        raise TrainingError(
            f"{base}: not a trained pipeline directory (it has no config.cfg). Pass model-best or model-last of an "
            f"earlier training run with --base."
        )
    return list(Config().from_disk(config_path, interpolate=False)["nlp"]["pipeline"])


def derive_config(
    config: Config, config_path: Path, output_dir: Path, *, base: Optional[PathLike] = None,
    rehearse: Optional[PathLike] = None, vectors_given: bool = False,
) -> Config:
    """The config to train with: `config` (read from `config_path`, before overrides) rewritten
    for --base and --rehearse, and saved as output_dir/config-base.cfg, the record of what was
    derived (`config` and its file are left alone). Raises TrainingError."""
    config = config.copy()
    recognizers = [name for name in recognizer_names(config) if name in config["nlp"]["pipeline"]]
    if not recognizers:
        raise TrainingError(f"{config_path}: the pipeline has no bilstm_ner component to train on from a base model.")
    if base is not None:
        base = Path(base)
        base_components = _base_pipeline(base)
        missing = [name for name in recognizers if name not in base_components]
        if missing:
            raise TrainingError(
                f"--base {base}: the base pipeline has no component {', '.join(map(repr, missing))} (its components: "
                f"{', '.join(base_components)}). Pass a pipeline trained with this component's name."
            )
        if vectors_given and uses_static_vectors(config):
            raise TrainingError(
                f"--base {base} keeps the base model's vectors, which its weights were trained with: leave --vectors out."
            )
        for name in config["nlp"]["pipeline"]:
            if name in base_components:
                config["components"][name] = {"source": str(base)}
        if uses_static_vectors(config):
            config["initialize"]["vectors"] = str(base)
    if rehearse is not None:
        _add_rehearsal(config, config_path, recognizers, rehearse, base)
    config.to_disk(output_dir / DERIVED_CONFIG_NAME)
    return config


def _add_rehearsal(config: Config, config_path: Path, recognizers: List[str], rehearse: PathLike, base) -> None:
    if len(recognizers) != 1:
        raise TrainingError(f"{config_path}: --rehearse needs one bilstm_ner component, found {recognizers}.")
    component = recognizers[0]
    if base is None and "source" not in config["components"][component]:
        raise TrainingError(
            f"--rehearse: '{component}' in {config_path} is not sourced from a trained pipeline, so there is nothing "
            f"to rehearse. Pass --base MODEL, or set source in [components.{component}]."
        )
    if config["training"].get("before_update"):
        raise TrainingError(
            f"--rehearse: {config_path} already has a [training.before_update] callback, and spaCy takes only one. "
            f"Remove it, or add spacy-bilstm.Rehearse.v2 to the config yourself instead."
        )
    if not Path(rehearse).is_file():
        raise TrainingError(f"--rehearse {rehearse}: no such file. Pass raw text, one text per line (.txt or .jsonl).")
    callback: Dict = {"@callbacks": "spacy-bilstm.Rehearse.v2", "raw_text": str(rehearse), "component": component}
    config["training"]["before_update"] = callback


def describe_base(base: PathLike, components: List[str], trained_dir: Optional[Path] = None) -> str:
    """A log line naming the base and, once trained (`trained_dir`: model-last), the labels kept
    and added."""
    base = Path(base)
    lines = []
    for component in components:
        kept = base_labels(base, component)
        line = f"Base model {base} ('{component}'): labels kept: {', '.join(kept)}"
        if trained_dir is not None and (trained_dir / component / "cfg").is_file():
            added = [label for label in base_labels(trained_dir, component) if label not in kept]
            line += f"; labels added: {', '.join(added) or 'none'}"
        lines.append(line + ". Vectors and hash tables stay the base model's.")
    return "\n".join(lines)
