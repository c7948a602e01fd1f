"""The runtime a `bilstm_ner` component predicts with: its `backend` setting.

"torch" (the default) runs the torch modules. "onnxruntime" runs the ONNX graphs that
`spacy-bilstm export MODEL OUT --to onnx` wrote into the component's directory, under onnx/:
one graph per torch layer (char CNN, LSTM encoder with the emission projection), one for the
word features (hashed tables, static vectors, Maxout; onnx_words), and an index, graphs.json,
that names each graph's layer and the weights it was exported from. The hashing, the CRF
decode and entity probabilities run in numpy with either backend.
"""
from pathlib import Path
from typing import Dict, Optional, Sequence

import srsly
from spacy.tokens import Doc
from thinc.api import Model

from .errors import ModelLoadError, SpacyBilstmError
from .files import atomic_write
from .layers import onnx_runtime, onnx_words, word_features

BACKENDS = ("torch", "onnxruntime")
DEFAULT_BACKEND = "torch"
GRAPHS_DIR = "onnx"
GRAPHS_INDEX = "graphs.json"
INDEX_FORMAT = 1
EXPORT_COMMAND = "spacy-bilstm export MODEL OUTPUT --to onnx"
# The most an exported fp32 graph may differ from its layer (float32 rounding, reordered sums).
GRAPH_TOLERANCE = 1e-4


def use_backend(model: Model, backend: str, component_name: str) -> str:
    """Check the `backend` setting of a component whose model is `model`, and make its word
    features predict in a few array calls (word_features.FastWordFeatures) with either backend:
    "onnxruntime" replaces them with its graph when it loads one."""
    backend = check_backend(backend, component_name)
    word_features.use_fast_word_features(model)
    return backend


def check_backend(backend: str, component_name: str) -> str:
    if backend not in BACKENDS:
        raise SpacyBilstmError(
            f"[components.{component_name}] backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}."
        )
    if backend == "onnxruntime":
        onnx_runtime.require("onnxruntime", f"[components.{component_name}] backend = \"onnxruntime\"")
    return backend


def load_graphs(model: Model, component_dir: Path, component_name: str) -> None:
    """Make `model` (a loaded component's) predict with the ONNX graphs in component_dir/onnx."""
    index_path = component_dir / GRAPHS_DIR / GRAPHS_INDEX
    asked = f"Component '{component_name}' was loaded with backend \"onnxruntime\""
    if not index_path.is_file():
        raise ModelLoadError(
            f"{asked}, but {component_dir} has no ONNX graphs ({index_path} is missing). Export the pipeline: "
            f"{EXPORT_COMMAND}, and load OUTPUT; or load this one with backend \"torch\"."
        )
    try:
        index = srsly.read_json(index_path)
        described = dict(index["graphs"])
    except (ValueError, KeyError, TypeError) as error:
        raise ModelLoadError(
            f"{asked}, but its graph index {index_path} is damaged ({type(error).__name__}: {error}). Export the "
            f"pipeline again: {EXPORT_COMMAND}"
        ) from None
    layers = onnx_runtime.graphs_by_layer(model)
    required = {name for name, layer in layers.items() if onnx_runtime.is_torch_layer(layer)}
    if not required <= set(described) <= set(layers):
        raise ModelLoadError(
            f"{asked}, but its graphs ({', '.join(sorted(described)) or 'none'}, listed in {index_path}) are not "
            f"those of its model's layers ({', '.join(sorted(layers))}): the config changed after export. "
            f"Export the pipeline again: {EXPORT_COMMAND}"
        )
    # An export made before the word features had a graph has none: they run in thinc then.
    for file_name, layer in ((name, layer) for name, layer in layers.items() if name in described):
        graph_path = component_dir / GRAPHS_DIR / file_name
        if not graph_path.is_file():
            raise ModelLoadError(
                f"{asked}, but the graph {graph_path} is missing. Export the pipeline again: {EXPORT_COMMAND}"
            )
        onnx_runtime.use_graph(layer, graph_path.read_bytes(), described[file_name], str(graph_path))


def export_graphs(
    model: Model, quantization: Optional[str] = None, check_docs: Sequence[Doc] = ()
) -> Dict[str, tuple]:
    """{file name: (graph bytes, description)} for each exportable layer of `model`, quantized on
    request. A word-features graph is first checked against its layer's own output on
    `check_docs`."""
    exported = {}
    for file_name, layer in onnx_runtime.graphs_by_layer(model).items():
        graph = onnx_runtime.export_graph(layer)
        if check_docs and not onnx_runtime.is_torch_layer(layer):
            error = onnx_words.graph_error(layer, graph, list(check_docs))
            if error > GRAPH_TOLERANCE:
                raise SpacyBilstmError(
                    f"The ONNX graph of the word features differs from the layer it was made from by {error:.2g} "
                    f"(more than {GRAPH_TOLERANCE}), so it was not written. Please report this with the pipeline's "
                    f"config.cfg."
                )
        if quantization is not None:
            graph = onnx_runtime.quantized(graph, quantization)
        description = {
            "layer": layer.name,
            "weights_sha256": onnx_runtime.weights_fingerprint(layer),
            "quantization": quantization,
        }
        exported[file_name] = (graph, description)
    return exported


def write_graphs(component_dir: Path, graphs: Dict[str, tuple]) -> None:
    """Write export_graphs' graphs and their index to component_dir/onnx (the index last)."""
    graphs_dir = Path(component_dir) / GRAPHS_DIR
    for file_name, (graph, _) in graphs.items():
        atomic_write(graphs_dir / file_name, lambda temp, data=graph: temp.write_bytes(data))
    index = {"format": INDEX_FORMAT, "graphs": {name: description for name, (_, description) in graphs.items()}}
    atomic_write(graphs_dir / GRAPHS_INDEX, lambda temp: srsly.write_json(temp, index))


def save_graphs(model: Model, component_dir: Path) -> None:
    """When `model` predicts with ONNX graphs, write them beside its saved weights, so that the saved
    pipeline loads with backend "onnxruntime" too."""
    layers = onnx_runtime.graphs_by_layer(model)
    in_use = {name: onnx_runtime.graph_in_use(layer) for name, layer in layers.items()}
    if any(in_use[name] is None for name, layer in layers.items() if onnx_runtime.is_torch_layer(layer)):
        return
    write_graphs(component_dir, {name: graph for name, graph in in_use.items() if graph is not None})
