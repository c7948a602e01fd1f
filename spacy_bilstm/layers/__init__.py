"""thinc layers over the torch modules of `nn`, one job per module:

- torch_layer: the thinc layer and shim that wrap a torch module (averaged weights, threads);
- weights: reading and writing a module's weights, refusing anything but tensors;
- tagger_layer: the layer over nn's SequenceTagger and its output (emissions and CRF scores);
- segmented: the whole model's layer: token features, the pieces the LSTM reads, the tagger;
- loss: the tagger's loss and its gradients, with no side effect on the weights;
- decoding: best paths, entity and whole-path probabilities from the tagger's output;
- char_ids, char_cache, char_cnn_layer: the layer over nn's CharCNN, its inputs and its inference cache;
- hidden_tokens: hiding whole tokens' features in training (WordCharEmbed.v3's identity_dropout);
- word_features: the hashed embeddings and static vectors (MultiHashEmbed) at prediction, in a few calls;
- onnx_runtime, onnx_words, onnx_sessions: prediction with ONNX graphs (the backend "onnxruntime").

No spaCy pipeline logic lives here; the component never touches a tensor itself.
"""
from .char_cnn_layer import char_cnn_layer
from .decoding import (
    best_paths, doc_log_probabilities, path_log_probabilities, span_probabilities, token_tag_probabilities,
)
from .hidden_tokens import hidden_tokens
from .loss import tagger_loss
from .segmented import segmented_tagger_layer
from .tagger_layer import (
    TaggerGradient, TaggerOutput, add_tags, configure_tags, forget_resized_weights, held_out_tags, hold_out_tags,
    is_configured, release_held_out_tags, sequence_tagger_layer,
)
from .torch_layer import inference_mode

__all__ = [
    "TaggerGradient", "TaggerOutput", "add_tags", "best_paths", "char_cnn_layer", "configure_tags",
    "doc_log_probabilities", "forget_resized_weights", "held_out_tags", "hidden_tokens", "hold_out_tags",
    "inference_mode", "is_configured", "path_log_probabilities", "release_held_out_tags", "segmented_tagger_layer",
    "sequence_tagger_layer",
    "span_probabilities", "tagger_loss", "token_tag_probabilities",
]
