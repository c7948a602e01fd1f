"""The `bilstm_ner` component's serialization: TrainablePipe's, except that the output layer is
built for the saved labels before the weights are loaded into it (tags added to a trained model
and never trained stay held out, as saved), the config's spans_key and threshold win over the
saved copies, and a damaged or mismatched file gets an error that names it. spaCy glue only."""
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import srsly
from spacy import util

from . import backends, layers
from .architectures import READING_ATTRS
from .errors import ModelLoadError
from .tags import PREFIXES

if TYPE_CHECKING:  # the component, whose base this mixin is
    from .pipeline import BiLSTMEntityRecognizer

# cfg key: the labels added to a trained model (add_label) that no update has trained yet. Their
# tags are held out of the predictions; absent (as in pipelines saved before growth existed) = [].
UNTRAINED_LABELS_KEY = "untrained_labels"


class ComponentSerialization:
    """to_bytes, to_disk, from_bytes and from_disk of BiLSTMEntityRecognizer (a mixin before
    TrainablePipe in its bases: it calls TrainablePipe's own to_bytes and to_disk)."""

    def _update_cfg(self, cfg, source: str) -> None:
        labels = cfg.get("labels") if isinstance(cfg, dict) else None
        if not (
            isinstance(labels, list)
            and all(isinstance(label, str) and label for label in labels)
            and len(set(labels)) == len(labels)
        ):
            raise ModelLoadError(
                f"Component '{self.name}': {source} must be a JSON object whose \"labels\" is a list of distinct, "
                f"non-empty strings. Restore it from a good copy of the pipeline, or retrain."
            )
        untrained = cfg.get(UNTRAINED_LABELS_KEY, [])
        is_suffix = untrained == [] or (
            isinstance(untrained, list) and len(untrained) < len(labels)
            and labels[len(labels) - len(untrained):] == untrained
        )
        if not is_suffix:
            raise ModelLoadError(
                f"Component '{self.name}': in {source}, \"{UNTRAINED_LABELS_KEY}\" must list the last labels of "
                f"\"labels\" (those added to the trained model and not trained since), got {untrained!r}. "
                f"Restore it from a good copy of the pipeline, or retrain."
            )
        self.cfg.pop(UNTRAINED_LABELS_KEY, None)
        self.cfg.update(cfg)
        self.cfg.update(self._configured_settings)

    def _load_model(self, data: bytes, source: str) -> None:
        if self.labels:
            self._configure_tags()
            # The output width and labels the weights were trained for are read with them, to
            # be compared with the cfg's labels below.
            self._tagger.set_dim("nO", None, force=True)
            self._tagger.attrs.pop("labels", None)
        configured_reading = {key: self.model.attrs[key] for key in READING_ATTRS if key in self.model.attrs}
        try:
            self.model.from_bytes(data)
        except Exception as error:  # msgpack, thinc and torch raise several types for a damaged file
            self._check_trained_labels(source)
            if isinstance(error, ModelLoadError):
                raise ModelLoadError(f"Component '{self.name}' ({source}): {error}") from None
            raise ModelLoadError(
                f"Component '{self.name}' could not load its model from {source}: {type(error).__name__}: "
                f"{error}. The file is truncated or corrupted, or it was saved from a different config. Restore "
                f"the pipeline directory from a good copy, or retrain."
            ) from None
        self._check_trained_labels(source)
        self._tagger.attrs["labels"] = list(self.labels)
        if self.labels:
            layers.hold_out_tags(self._tagger, len(PREFIXES) * len(self.cfg.get(UNTRAINED_LABELS_KEY, [])))
        # thinc restores the attrs saved with the weights; the config this pipeline was loaded
        # with decides how it reads, as it decides the threshold.
        self.model.attrs.update(configured_reading)

    def _check_trained_labels(self, source: str) -> None:
        """The weights predict tags by position: a cfg whose labels were renamed, reordered,
        added or dropped would give entities the wrong labels, or fail with a shape error."""
        if not self.labels:
            return
        trained = self._tagger.attrs.get("labels")
        if trained is not None and list(trained) != list(self.labels):
            raise ModelLoadError(
                f"Component '{self.name}': the weights in {source} were trained for the labels {list(trained)}, "
                f"but its cfg lists {list(self.labels)}, so entities would get the wrong labels. Restore the cfg "
                f"saved with these weights, or retrain."
            )
        n_tags = self._tagger.get_dim("nO") if self._tagger.has_dim("nO") is True else None
        if trained is None and n_tags is not None and n_tags != len(self._tags):
            raise ModelLoadError(
                f"Component '{self.name}': the weights in {source} were trained for {(n_tags - 1) // len(PREFIXES)} "
                f"entity label(s) ({n_tags} BILUO tags), but its cfg lists {len(self.labels)}: {list(self.labels)}. "
                f"Restore the cfg saved with these weights, or retrain."
            )

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
        """Serialize the component to a bytestring; warns of runtime settings the config would override.

        exclude (Iterable[str]): String names of serialization fields to exclude.
        RETURNS (bytes): The serialized component.
        """
        self._warn_about_unsaved_settings()
        return super().to_bytes(exclude=exclude)

    def to_disk(self, path, *, exclude: Iterable[str] = tuple()) -> None:
        """Serialize the component to a directory; warns of runtime settings the config would override.

        path (str / Path): Path to a directory.
        exclude (Iterable[str]): String names of serialization fields to exclude.
        """
        self._warn_about_unsaved_settings()
        super().to_disk(path, exclude=exclude)
        backends.save_graphs(self.model, Path(path))

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "BiLSTMEntityRecognizer":
        """Load the component from a bytestring. Damaged or mismatched data: ModelLoadError.

        bytes_data (bytes): The data to load from.
        exclude (Iterable[str]): String names of serialization fields to exclude.
        RETURNS (BiLSTMEntityRecognizer): The loaded component.
        """
        self._validate_serialization_attrs()
        source = "the bytes"
        deserializers = {
            "cfg": lambda data: self._update_cfg(_json(data, f"the cfg in {source}", self.name), f"the cfg in {source}"),
            "vocab": lambda data: self.vocab.from_bytes(data, exclude=exclude),
            "model": lambda data: self._load_model(data, f"the model in {source}"),
        }
        util.from_bytes(bytes_data, deserializers, exclude)
        return self

    def from_disk(self, path, *, exclude: Iterable[str] = tuple()) -> "BiLSTMEntityRecognizer":
        """Load the component from a directory. A missing, damaged or mismatched file: ModelLoadError.

        path (str / Path): Path to a directory.
        exclude (Iterable[str]): String names of serialization fields to exclude.
        RETURNS (BiLSTMEntityRecognizer): The loaded component.
        """
        self._validate_serialization_attrs()
        deserializers = {
            "vocab": lambda p: self.vocab.from_disk(p, exclude=exclude),
            "cfg": lambda p: self._update_cfg(_json(self._read(p, "cfg file"), str(p), self.name), str(p)),
            "model": lambda p: self._load_model(self._read(p, "weights"), str(p)),
        }
        util.from_disk(Path(path), deserializers, exclude)
        if self.backend == "onnxruntime" and "model" not in exclude:
            backends.load_graphs(self.model, Path(path), self.name)
        return self

    def _read(self, path: Path, what: str) -> bytes:
        if not path.is_file():
            raise ModelLoadError(
                f"Component '{self.name}' has no {what} at {path}: the pipeline directory is incomplete"
                + ("" if path.parent.is_dir() else f" (the component's directory {path.parent} is missing)")
                + ". Copy the whole pipeline directory again, or retrain."
            )
        return path.read_bytes()


def _json(data: bytes, source: str, name: str):
    try:
        return srsly.json_loads(data)
    except ValueError as error:
        raise ModelLoadError(
            f"Component '{name}': {source} is not valid JSON ({error}); the file is corrupted. Restore it from a "
            f"good copy of the pipeline, or retrain."
        ) from None
