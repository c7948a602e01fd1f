"""Plain PyTorch and numpy code (no spaCy imports): the LSTM encoder, the character CNN, the
CRF's training passes (crf) and its inference (lattice)."""
from .char_cnn import CharCNN
from .crf import LinearChainCRF, masked_logsumexp
from .encoder import LSTMEncoder, length_buckets
from .tagger import SequenceTagger, sequence_loss

__all__ = [
    "CharCNN", "LinearChainCRF", "LSTMEncoder", "SequenceTagger", "length_buckets", "masked_logsumexp",
    "sequence_loss",
]
