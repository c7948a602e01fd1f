"""Plain PyTorch modules (no spaCy imports): the LSTM encoder, the character CNN and the CRF."""
from .charcnn import CharCNN
from .crf import LinearChainCRF, masked_logsumexp
from .encoder import LSTMEncoder, length_buckets
from .tagger import SequenceTagger

__all__ = ["CharCNN", "LinearChainCRF", "LSTMEncoder", "SequenceTagger", "length_buckets", "masked_logsumexp"]
