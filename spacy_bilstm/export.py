"""`spacy-bilstm export`: a copy of a trained pipeline directory with its `bilstm_ner` components'
torch layers also saved as ONNX graphs, for the component setting backend = "onnxruntime"
(backends.py). The copy still loads and predicts with torch by default."""
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Union

from spacy import util

from . import backends
from .errors import SpacyBilstmError
from .files import atomic_write
from .layers import onnx_runtime
from .loading import load_pipeline
from .pipeline import BiLSTMEntityRecognizer

PathLike = Union[str, Path]
FORMATS = ("onnx",)


class ExportError(SpacyBilstmError):
    """An export the user asked for cannot be made: bad format, output or pipeline."""


@dataclass
class ExportResult:
    output_path: Path
    # {component name: the graph files written into its directory, relative to the output}
    graphs: Dict[str, List[Path]]
    quantization: Optional[str]


def export_pipeline(
    model_path: PathLike,
    output_path: PathLike,
    *,
    to: str = "onnx",
    quantize: Optional[str] = None,
    backend: str = backends.DEFAULT_BACKEND,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> ExportResult:
    """Copy the pipeline directory `model_path` to `output_path` and write, into each bilstm_ner
    component's directory there, the ONNX graphs of its torch layers (quantize: None for fp32, or
    "int8" for dynamically quantized weights). `backend`: the one the copy's config.cfg names for
    those components, what it loads with unless told otherwise, e.g. by
    spacy.load(output_path, config={"components": {NAME: {"backend": "onnxruntime"}}})."""
    model_path, output_path = Path(model_path), Path(output_path)
    if to not in FORMATS:
        raise ExportError(f"--to {to!r}: the formats are {', '.join(FORMATS)}.")
    if quantize is not None and quantize not in onnx_runtime.QUANTIZATIONS:
        raise ExportError(f"--quantize {quantize!r}: choose one of {', '.join(onnx_runtime.QUANTIZATIONS)}.")
    if backend not in backends.BACKENDS:
        raise ExportError(f"--backend {backend!r}: choose one of {', '.join(backends.BACKENDS)}.")
    onnx_runtime.require("onnx", "spacy-bilstm export --to onnx")
    onnx_runtime.require("onnxruntime", "spacy-bilstm export --to onnx")
    if not model_path.is_dir():
        raise ExportError(f"{model_path}: no such pipeline directory. Pass e.g. training/model-best.")
    if output_path.resolve() == model_path.resolve():
        raise ExportError(f"{output_path}: the output must be a new directory, not the pipeline itself.")
    if output_path.exists() and not force:
        raise ExportError(f"{output_path} already exists. Remove it, or pass --force to replace it.")
    nlp = load_pipeline(model_path)
    components = [(name, pipe) for name, pipe in nlp.pipeline if isinstance(pipe, BiLSTMEntityRecognizer)]
    if not components:
        raise ExportError(
            f"{model_path}: the pipeline has no bilstm_ner component (components: "
            f"{', '.join(nlp.component_names) or 'none'}), so there is nothing to export."
        )
    output_path.parent.mkdir(parents=True, exist_ok=True)
    # Built beside the output and renamed into place: a failed export leaves no half-written copy.
    staging = Path(tempfile.mkdtemp(prefix=f".{output_path.name}.", dir=output_path.parent))
    try:
        copy = staging / "pipeline"
        shutil.copytree(model_path, copy)
        written: Dict[str, List[Path]] = {}
        for name, pipe in components:
            graphs = backends.export_graphs(pipe.model, quantize, check_docs=_check_docs(nlp))
            backends.write_graphs(copy / name, graphs)
            written[name] = [Path(name) / backends.GRAPHS_DIR / file_name for file_name in graphs]
            log(f"{name}: wrote {', '.join(str(path) for path in written[name])}"
                + (f" ({quantize} weights)" if quantize else ""))
        if backend != backends.DEFAULT_BACKEND:
            _set_backend(copy / "config.cfg", [name for name, _ in components], backend)
        if output_path.exists():
            shutil.rmtree(output_path)
        copy.rename(output_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(output_path, written, quantize)


# Texts of many shapes for checking a graph against its layer: cased, numbers, punctuation,
# words a vocab may not have (in any language: the hashing does not care).
CHECK_TEXTS = (
    "Tim Cook and Angela Merkel met the United Nations in London, then flew to Geneva on Monday.",
    "EU rejects German call to boycott British lamb . 12,500 shares at $ 3.75 ( +0.5 % ) on 1996-08-22 !",
    "la Comisión Europea dijo el jueves que no estaba de acuerdo con el consejo alemán de Münster",
    "@user lol thats sooo https://t.co/x #NewYork :) ...",
)


def _check_docs(nlp) -> List:
    return [nlp.make_doc(text) for text in CHECK_TEXTS]


def _set_backend(config_path: Path, component_names: List[str], backend: str) -> None:
    config = util.load_config(config_path, interpolate=False)
    for name in component_names:
        config["components"][name]["backend"] = backend
    atomic_write(config_path, lambda temp: config.to_disk(temp))
