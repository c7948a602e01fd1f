"""The `bilstm_ner` component: a TrainablePipe that writes `doc.ents` (and a span group with
each entity's probability) from a BiLSTM-CRF tagger. spaCy glue only: every tensor operation
happens in `bridge` and `nn`."""
import warnings
from itertools import islice
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import srsly
from spacy import util
from spacy.language import Language
from spacy.pipeline.trainable_pipe import TrainablePipe
from spacy.tokens import Doc, Span, SpanGroup
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate
from thinc.types import Floats2d

from . import bridge
from .segments import segments_of_docs
from .tags import PREFIXES, BiluoTags, UnknownLabelError

DEFAULT_MODEL_CONFIG_STR = """
[model]
@architectures = "spacy-bilstm.BiLSTMCRF.v1"
hidden_width = 128
depth = 1
dropout = 0.3
bidirectional = true
output = "crf"

[model.tok2vec]
@architectures = "spacy-bilstm.WordCharEmbed.v1"
width = 96
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
rows = [5000, 1000, 2500, 2500]
include_static_vectors = false
include_char_cnn = true
char_embed_width = 32
char_filters = 64
char_window = 3
char_rows = 1024
max_chars = 20
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_MODEL_CONFIG_STR)["model"]
DEFAULT_SPANS_KEY = "bilstm_ner"

# One predicted entity: (start token, end token exclusive, label, probability).
Entity = Tuple[int, int, str, float]


@Language.factory(
    "bilstm_ner",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc.spans"],
    default_config={
        "model": DEFAULT_MODEL,
        "spans_key": DEFAULT_SPANS_KEY,
        "threshold": 0.0,
        "scorer": {"@scorers": "spacy.ner_scorer.v1"},
    },
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_bilstm_ner(
    nlp: Language, name: str, model: Model, spans_key: str, threshold: float, scorer: Optional[Callable]
) -> "BiLSTMEntityRecognizer":
    """A BiLSTM-CRF named-entity recognizer.

    model: a BiLSTMCRF architecture (token features -> LSTM -> tag emission scores).
    spans_key: every predicted entity also goes to doc.spans[spans_key], with its probability
        in attrs["scores"], whether or not it clears the threshold.
    threshold: entities whose probability is below it are left out of doc.ents.
    """
    return BiLSTMEntityRecognizer(nlp.vocab, model, name, spans_key=spans_key, threshold=threshold, scorer=scorer)


class BiLSTMEntityRecognizer(TrainablePipe):
    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "bilstm_ner",
        *,
        spans_key: str = DEFAULT_SPANS_KEY,
        threshold: float = 0.0,
        scorer: Optional[Callable] = None,
    ):
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"[components.{name}] threshold must be between 0 and 1, got {threshold}.")
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        # temperature: divides the model's scores when entity probabilities are computed
        # (fitted on dev data for calibration; decoding is unaffected). Stored with the model.
        self.cfg: Dict = {"labels": [], "spans_key": spans_key, "threshold": threshold, "temperature": 1.0}
        # spans_key and threshold are settings of the pipeline's config: on loading, the values the
        # component was built with (config.cfg, plus any override given to spacy.load) win over the
        # copies saved in cfg, so that a config override is obeyed.
        self._configured_settings: Dict = {"spans_key": spans_key, "threshold": threshold}
        self._tags = BiluoTags([])

    @property
    def labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["labels"])

    @property
    def label_data(self) -> List[str]:
        return list(self.labels)

    @property
    def spans_key(self) -> str:
        return self.cfg["spans_key"]

    @property
    def threshold(self) -> float:
        return self.cfg["threshold"]

    @property
    def temperature(self) -> float:
        return self.cfg.get("temperature", 1.0)

    @property
    def _tagger(self) -> Model:
        return self.model.get_ref("tagger")

    @staticmethod
    def _check_label(label: str) -> None:
        if not isinstance(label, str) or not label:
            raise ValueError(f"Entity labels must be non-empty strings, got {label!r}.")

    def add_label(self, label: str) -> int:
        self._check_label(label)
        if label in self.labels:
            return 0
        if bridge.is_configured(self._tagger):
            raise ValueError(
                f"Cannot add the label {label!r} to '{self.name}' after it was initialized: its output layer "
                f"is sized for {list(self.labels)}. Add every label before nlp.initialize(), or list them in "
                f"[initialize.components.{self.name}.labels], and initialize again (which retrains from scratch)."
            )
        self.cfg["labels"].append(label)
        return 1

    def _add_labels_for_initialize(self, labels: Iterable[str]) -> None:
        # initialize rebuilds the output layer, so here a label may be added to a configured model.
        for label in labels:
            self._check_label(label)
            if label not in self.labels:
                self.cfg["labels"].append(label)

    def _configure_tags(self) -> None:
        self._tags = BiluoTags(self.labels)
        bridge.configure_tags(
            self._tagger, self._tags.allowed_start, self._tags.allowed_end, self._tags.allowed_transitions
        )

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> None:
        """Add the labels in `labels`, or else those of the examples' entities, to any labels
        added before (add_label), then build the output layer and initialize the model on a
        sample of the examples. Initializing again starts the model afresh."""
        validate_get_examples(get_examples, "BiLSTMEntityRecognizer.initialize")
        if labels is None:
            labels = sorted({ent.label_ for eg in get_examples() for ent in eg.reference.ents})
        self._add_labels_for_initialize(labels)
        if not self.labels:
            raise ValueError(
                f"'{self.name}' found no entity labels: the training examples have no entities and no labels "
                f"were given. Check the training data, or list the labels in "
                f"[initialize.components.{self.name}.labels]."
            )
        self._configure_tags()
        doc_sample = [eg.predicted for eg in islice(get_examples(), 10)]
        self.model.initialize(X=doc_sample)

    def predict(self, docs: Iterable[Doc]) -> List[List[Entity]]:
        docs = list(docs)
        if not any(len(doc) for doc in docs):
            return [[] for _ in docs]
        with bridge.inference_mode():
            emissions = self.model.predict(docs)
        segments = segments_of_docs(docs)
        paths = bridge.viterbi_paths(self._tagger, emissions)
        flat = [
            (segment_index, span)
            for segment_index, path in enumerate(paths)
            for span in self._tags.spans_from_ids(path)
        ]
        probabilities = bridge.span_probabilities(
            self._tagger,
            emissions,
            [segment_index for segment_index, _ in flat],
            [span[0] for _, span in flat],
            [self._tags.span_tag_ids(span) for _, span in flat],
            self.temperature,
        )
        entities: List[List[Entity]] = [[] for _ in docs]
        for (segment_index, (start, end, label)), probability in zip(flat, probabilities):
            doc_index, offset, _ = segments[segment_index]
            entities[doc_index].append((offset + start, offset + end, label, float(probability)))
        return entities

    def set_annotations(self, docs: Iterable[Doc], entities: List[List[Entity]]) -> None:
        """Every predicted entity goes to doc.spans[spans_key] with its probability. doc.ents keeps
        the entities a component before this one set (an entity_ruler, say) and adds the
        predicted entities that reach the threshold and overlap none of them, as spaCy's `ner`
        respects existing entities."""
        for doc, doc_entities in zip(docs, entities):
            spans = [Span(doc, start, end, label=label) for start, end, label, _ in doc_entities]
            scores = [score for *_, score in doc_entities]
            doc.spans[self.spans_key] = SpanGroup(doc, name=self.spans_key, spans=spans, attrs={"scores": scores})
            existing = list(doc.ents)
            taken = {i for ent in existing for i in range(ent.start, ent.end)}
            kept = [
                span
                for span, score in zip(spans, scores)
                if score >= self.threshold and taken.isdisjoint(range(span.start, span.end))
            ]
            doc.set_ents(existing + kept, default="outside")

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "BiLSTMEntityRecognizer.update")
        if not any(len(eg.predicted) for eg in examples):
            return losses
        set_dropout_rate(self.model, drop)
        emissions, backprop = self.model.begin_update([eg.predicted for eg in examples])
        loss, d_emissions = self.get_loss(examples, emissions)
        backprop(d_emissions)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def get_loss(self, examples: Iterable[Example], emissions: List[Floats2d]) -> Tuple[float, List[Floats2d]]:
        """CRF negative log-likelihood of the gold tags; tokens whose gold tag is unknown
        (misaligned or unannotated) are marginalised. The CRF's own score gradients accumulate
        in the model and are applied by the next finish_update."""
        validate_examples(examples, "BiLSTMEntityRecognizer.get_loss")
        examples = list(examples)
        gold_of_docs = [self._gold_tag_ids(eg) for eg in examples]
        gold = [
            self._tags.cut_to_segment(gold_of_docs[doc_index], start, end)
            for doc_index, start, end in segments_of_docs(eg.predicted for eg in examples)
        ]
        return bridge.tagger_loss(self._tagger, emissions, gold)

    def _gold_tag_ids(self, example: Example):
        try:
            return self._tags.ids_from_biluo(example.get_aligned_ner())
        except UnknownLabelError as error:
            text = example.reference.text
            excerpt = text if len(text) <= 60 else text[:57] + "..."
            raise UnknownLabelError(
                f"'{self.name}': the training example {excerpt!r} has an entity label it was not initialized "
                f"with. {error} The labels are fixed by nlp.initialize(): list every label of the training "
                f"data in [initialize.components.{self.name}.labels] (or leave that setting out, to take the "
                f"labels from the training data) and initialize again."
            ) from None

    # Serialization: the output layer's shape depends on the labels, so the labels (cfg) are
    # read and the output layer built before the weights are loaded into it.

    def _configure_for_loading(self) -> None:
        if self.labels:
            self._configure_tags()

    def _load_model_bytes(self, data: bytes, source: str) -> None:
        try:
            msg = srsly.msgpack_loads(data)
            nodes = msg["nodes"]
        except Exception as error:  # msgpack raises several types for a damaged file
            raise bridge.ModelLoadError(
                f"Component '{self.name}' could not read its model from {source}: the file is truncated or "
                f"corrupted ({type(error).__name__}: {error}). Restore the pipeline directory from a good copy, "
                f"or retrain."
            ) from None
        self._check_stored_tag_count(nodes, source)
        try:
            self.model.from_bytes(data)
        except bridge.ModelLoadError as error:
            raise bridge.ModelLoadError(f"Component '{self.name}' ({source}): {error}") from None
        except Exception as error:
            raise bridge.ModelLoadError(
                f"Component '{self.name}' could not load its model from {source}: {type(error).__name__}: "
                f"{error}. The file is truncated or corrupted, or it was saved from a different config or "
                f"label set (labels now: {list(self.labels)}). Retrain or restore the model directory."
            ) from None

    def _check_stored_tag_count(self, nodes, source: str) -> None:
        """The saved output layer has one row per BILUO tag of the labels it was trained with;
        a cfg whose label list does not match says so here rather than as a shape error."""
        expected = len(self._tags) if self.labels else None
        stored = [
            node.get("dims", {}).get("nO")
            for node in nodes
            if isinstance(node, dict) and node.get("name") == self._tagger.name
        ]
        if expected is None or len(stored) != 1 or not isinstance(stored[0], int) or stored[0] == expected:
            return
        n_labels = (stored[0] - 1) // len(PREFIXES)
        raise bridge.ModelLoadError(
            f"Component '{self.name}': the weights in {source} were trained for {n_labels} entity label(s) "
            f"({stored[0]} BILUO tags), but its cfg lists {len(self.labels)}: {list(self.labels)}. The cfg and "
            f"the weights come from different trainings; restore the cfg saved with these weights, or retrain."
        )

    def _check_labels_against_meta(self, directory: Path) -> None:
        """Weights do not record label names: a cfg whose labels were renamed or reordered
        would load and silently give entities the wrong labels. The pipeline's meta.json,
        written by the same nlp.to_disk, is the second witness."""
        meta_path = directory.parent / "meta.json"
        if not meta_path.is_file():
            return
        try:
            meta_labels = srsly.read_json(meta_path).get("labels", {})
        except Exception:  # spaCy reports a broken meta.json itself
            return
        saved = meta_labels.get(self.name) if isinstance(meta_labels, dict) else None
        if isinstance(saved, list) and saved != list(self.labels):
            raise bridge.ModelLoadError(
                f"Component '{self.name}': its cfg ({directory / 'cfg'}) lists the labels {list(self.labels)}, but "
                f"the pipeline's {meta_path} lists {saved}. The weights predict tags by position, so entities "
                f"would get the wrong labels. Restore the cfg saved with this pipeline (or, if you renamed a "
                f"label on purpose, make both files agree)."
            )

    def _update_cfg(self, cfg, source: str) -> None:
        labels = cfg.get("labels") if isinstance(cfg, dict) else None
        if not (
            isinstance(labels, list)
            and all(isinstance(label, str) and label for label in labels)
            and len(set(labels)) == len(labels)
        ):
            raise bridge.ModelLoadError(
                f"Component '{self.name}': {source} must be a JSON object whose \"labels\" is a list of distinct, "
                f"non-empty strings. Restore it from a good copy of the pipeline, or retrain."
            )
        self.cfg.update(cfg)
        self.cfg.update(self._configured_settings)

    def _warn_about_unsaved_settings(self) -> None:
        for key, configured in self._configured_settings.items():
            value = self.cfg[key]
            if value != configured:
                warnings.warn(
                    f"'{self.name}': cfg[{key!r}] was changed to {value!r} at runtime, but the pipeline's config "
                    f"says {configured!r}, and a loaded pipeline follows its config. To keep {value!r}, set it in "
                    f"[components.{self.name}] of the saved config.cfg, or when loading: spacy.load(path, "
                    f"config={{'components': {{'{self.name}': {{'{key}': {value!r}}}}}}}).",
                    stacklevel=3,
                )

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        self._warn_about_unsaved_settings()
        return super().to_bytes(exclude=exclude)

    def to_disk(self, path, *, exclude: Iterable[str] = tuple()) -> None:
        self._warn_about_unsaved_settings()
        super().to_disk(path, exclude=exclude)

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "BiLSTMEntityRecognizer":
        self._validate_serialization_attrs()

        def load_model(data: bytes) -> None:
            self._configure_for_loading()
            self._load_model_bytes(data, "bytes")

        def load_cfg(data: bytes) -> None:
            try:
                cfg = srsly.json_loads(data)
            except ValueError as error:
                raise bridge.ModelLoadError(
                    f"Component '{self.name}': its cfg is not valid JSON ({error}); the bytes are corrupted."
                ) from None
            self._update_cfg(cfg, "the cfg in the bytes")

        deserializers = {
            "cfg": load_cfg,
            "vocab": lambda data: self.vocab.from_bytes(data, exclude=exclude),
            "model": load_model,
        }
        util.from_bytes(bytes_data, deserializers, exclude)
        return self

    def from_disk(self, path, *, exclude: Iterable[str] = tuple()) -> "BiLSTMEntityRecognizer":
        self._validate_serialization_attrs()
        path = Path(path)

        def load_cfg(cfg_path: Path) -> None:
            if not cfg_path.exists():
                raise bridge.ModelLoadError(
                    f"Component '{self.name}' has no cfg file at {cfg_path}: the pipeline directory is incomplete"
                    + ("" if path.is_dir() else f" (the component's directory {path} is missing)")
                    + ". Copy the whole pipeline directory again, or retrain."
                )
            try:
                cfg = srsly.read_json(cfg_path)
            except ValueError as error:
                raise bridge.ModelLoadError(
                    f"Component '{self.name}': {cfg_path} is not valid JSON ({error}); the file is corrupted. "
                    f"Restore it from a good copy of the pipeline, or retrain."
                ) from None
            self._update_cfg(cfg, str(cfg_path))
            self._check_labels_against_meta(path)

        def load_model(model_path: Path) -> None:
            if not model_path.exists():
                raise bridge.ModelLoadError(
                    f"Component '{self.name}' has no weights at {model_path}: the pipeline directory is "
                    f"incomplete. Copy the whole directory again or retrain."
                )
            self._configure_for_loading()
            self._load_model_bytes(model_path.read_bytes(), str(model_path))

        deserializers = {
            "vocab": lambda p: self.vocab.from_disk(p, exclude=exclude),
            "cfg": load_cfg,
            "model": load_model,
        }
        util.from_disk(path, deserializers, exclude)
        return self
