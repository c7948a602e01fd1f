"""`train`: spaCy's own loop on the TrainingPlan (plan.py: the config resolved once, inputs
checked and converted), with a Ctrl-C that leaves model-last whole."""
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

from ..vectors import write_vectors_cfg_attr
from .base import DERIVED_CONFIG_NAME, describe_base
from .configs import resolve_config_path
from .errors import TrainingError, TrainingInterrupted
from .plan import TrainingPlan, plan_training
from .preparation import prepare_output_dir

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
    config_path = resolve_config_path(config)
    created = not Path(output_path).exists()
    output_dir = prepare_output_dir(output_path)
    try:
        plan = plan_training(
            config_path, output_dir, train_path=train_path, dev_path=dev_path, vectors=vectors,
            vectors_attr=vectors_attr, seed=seed, gpu_id=gpu_id, overrides=overrides, log=log,
            progress_bar=progress_bar, base=base, rehearse=rehearse,
        )
    except TrainingError:
        if created:
            (output_dir / DERIVED_CONFIG_NAME).unlink(missing_ok=True)
        if created and not any(output_dir.iterdir()):
            output_dir.rmdir()  # a refused run leaves nothing behind
        raise
    try:
        with _finish_saving_on_interrupt(log):
            try:
                train_with_spacy_loop(plan)
            finally:
                if plan.vectors_attr_id is not None:
                    for model_dir in (output_dir / "model-last", output_dir / "model-best"):
                        write_vectors_cfg_attr(model_dir, plan.vectors_attr_id)
    except KeyboardInterrupt:
        model_last = output_dir / "model-last"
        raise TrainingInterrupted(model_last if (model_last / "config.cfg").exists() else None) from None
    if base is not None:
        log(describe_base(base, plan.recognizers, output_dir / "model-last"))
    return output_dir


def train_with_spacy_loop(plan: TrainingPlan) -> None:
    """What `spacy train` does once it has read its config, on the plan's config: spaCy's own
    initialization and training loop, with its own messages."""
    from spacy.cli._util import setup_gpu, show_validation_error
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import train as train_nlp
    from wasabi import msg

    msg.info(f"Saving to output directory: {plan.output_dir}")
    setup_gpu(plan.gpu_id)
    msg.divider("Initializing pipeline")
    with show_validation_error(plan.config_path, hint_fill=False):
        nlp = init_nlp(plan.config, use_gpu=plan.gpu_id)
    msg.good("Initialized pipeline")
    msg.divider("Training pipeline")
    train_nlp(nlp, plan.output_dir, use_gpu=plan.gpu_id, stdout=sys.stdout, stderr=sys.stderr)
