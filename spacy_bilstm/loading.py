"""Loading a trained pipeline for evaluate, calibrate and process: one function, one error."""
from pathlib import Path
from typing import Union

import spacy
import srsly
from spacy.language import Language

from .errors import SpacyBilstmError


class PipelineLoadError(SpacyBilstmError):
    """The pipeline named by the user is missing, damaged, or needs packages that are not installed."""


def load_pipeline(model: Union[str, Path], gpu_id: int = -1) -> Language:
    """spacy.load(model) on GPU `gpu_id` (-1: CPU), with every failure a PipelineLoadError that
    names the pipeline and says what to do."""
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    model = str(model)
    if not Path(model).exists() and not spacy.util.is_package(model):
        raise PipelineLoadError(
            f"Cannot load the pipeline {model!r}: no such pipeline directory or installed pipeline package. "
            f"Give the path of a trained pipeline directory (e.g. training/model-best) or the name of an "
            f"installed pipeline package."
        )
    try:
        nlp = spacy.load(model)
    except OSError as error:
        raise PipelineLoadError(
            f"Cannot load the pipeline {model!r}: {error}. Check that it is a complete spaCy pipeline "
            f"directory (config.cfg, meta.json, one folder per component)."
        ) from None
    except ValueError as error:
        # A broken or mismatched pipeline directory: damaged weights (ModelLoadError), a config
        # naming an unknown component or architecture, a component another package provides.
        raise PipelineLoadError(
            f"Cannot load the pipeline {model!r}: {error}\nThe pipeline directory is damaged or does not "
            f"match the installed packages; restore it from a good copy, install what it needs, or retrain."
        ) from None
    _check_meta_pipeline(model, nlp)
    return nlp


def pipeline_of(model: Union[str, Path, Language], gpu_id: int = -1) -> Language:
    """`model` itself when it is a loaded pipeline, else load_pipeline(model, gpu_id)."""
    return model if isinstance(model, Language) else load_pipeline(model, gpu_id)


def _check_meta_pipeline(model: str, nlp: Language) -> None:
    """spaCy builds the pipeline from config.cfg and only reads meta.json for information. A
    meta.json that lists components the pipeline lacks means the directory was assembled from
    parts of different pipelines, whose output would not be what its meta.json promises."""
    # nlp.meta is rebuilt from the loaded pipeline; the file is what the directory claims.
    directory = getattr(nlp, "path", None)
    meta_path = Path(directory) / "meta.json" if directory is not None else None
    if meta_path is None or not meta_path.is_file():
        return
    listed = srsly.read_json(meta_path).get("pipeline")
    if not isinstance(listed, list):
        return
    missing = [name for name in listed if name not in nlp.component_names]
    if missing:
        raise PipelineLoadError(
            f"Cannot use the pipeline {model!r}: its meta.json lists the component(s) {', '.join(map(repr, missing))}, "
            f"which its config.cfg does not define (components: {', '.join(nlp.component_names) or 'none'}). "
            f"The directory mixes files of different pipelines; restore it from a good copy, or retrain."
        )
