"""`train`: spaCy's own loop (`spacy.cli.train.train`) on checked, converted inputs, with a
Ctrl-C that leaves model-last whole."""
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

from ..vectors import vectors_cfg_attr, write_vectors_cfg_attr
from .base import DERIVED_CONFIG_NAME, derive_config, describe_base, recognizer_names
from .configs import resolve_config_path
from .errors import TrainingError, TrainingInterrupted
from .preparation import checked_inputs, prepare_output_dir

PathLike = Union[str, Path]


@contextmanager
def _finish_saving_on_interrupt(log: Callable[[str], None]):
    """The first Ctrl-C stops training (spaCy's loop then saves model-last in its `finally`);
    further presses are ignored until that save is done, so it cannot be cut half-way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    interrupted: List[bool] = []

    def on_interrupt(signum, frame):
        if interrupted:
            log("Still saving model-last; it will be complete in a moment.")
            return
        interrupted.append(True)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def train(
    config: PathLike,
    output_path: PathLike,
    *,
    train_path: Optional[PathLike] = None,
    dev_path: Optional[PathLike] = None,
    vectors: Optional[PathLike] = None,
    vectors_attr: Optional[str] = None,
    seed: Optional[int] = None,
    gpu_id: int = -1,
    overrides: Optional[Dict[str, Any]] = None,
    log: Callable[[str], None] = print,
    progress_bar: bool = False,
    base: Optional[PathLike] = None,
    rehearse: Optional[PathLike] = None,
) -> Path:
    """Check everything, convert what needs converting, then train with spaCy's loop.
    Returns the output directory (with model-best, model-last). Raises TrainingError for bad
    input, before any conversion or training, and TrainingInterrupted on Ctrl-C. `progress_bar`
    shows spaCy's progress bar up to each evaluation (for a terminal; it is off in the configs).
    `base`: a trained pipeline to train on from (its components, weights and vectors are sourced;
    labels only the new data has are added). `rehearse`: raw text (.txt or .jsonl lines) to
    rehearse the base model's predictions on before each update (see training/base.py)."""
    from spacy.cli.train import train as spacy_train

    config_path = resolve_config_path(config)
    created = not Path(output_path).exists()
    output_dir = prepare_output_dir(output_path)
    try:
        if base is not None or rehearse is not None:
            config_path = derive_config(
                config_path, output_dir, base=base, rehearse=rehearse, vectors_given=vectors is not None
            )
            if base is not None:
                log(describe_base(base, _recognizers(config_path)))
        overrides = checked_inputs(
            config_path, output_dir, train_path, dev_path, vectors, vectors_attr, seed, gpu_id, dict(overrides or {}),
            log, progress_bar,
        )
    except TrainingError:
        if created:
            (output_dir / DERIVED_CONFIG_NAME).unlink(missing_ok=True)
        if created and not any(output_dir.iterdir()):
            output_dir.rmdir()  # a refused run leaves nothing behind
        raise
    vectors_attr_id = vectors_cfg_attr(overrides["paths.vectors"]) if "paths.vectors" in overrides else None
    try:
        with _finish_saving_on_interrupt(log):
            try:
                spacy_train(config_path, output_dir, use_gpu=gpu_id, overrides=overrides)
            finally:
                if vectors_attr_id is not None:
                    for model_dir in (output_dir / "model-last", output_dir / "model-best"):
                        write_vectors_cfg_attr(model_dir, vectors_attr_id)
    except KeyboardInterrupt:
        model_last = output_dir / "model-last"
        raise TrainingInterrupted(model_last if (model_last / "config.cfg").exists() else None) from None
    if base is not None:
        log(describe_base(base, _recognizers(config_path), output_dir / "model-last"))
    return output_dir


def _recognizers(config_path: Path) -> List[str]:
    from thinc.api import Config

    return recognizer_names(Config().from_disk(config_path, interpolate=False))
