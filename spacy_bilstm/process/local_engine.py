"""The local engine: one `nlp.pipe` call over the whole record stream.

Every record goes through `nlp.pipe`, bad ones as an empty text, so the docs that come
out line up one-to-one with the records in a small queue (nlp.pipe keeps order, also with
n_process > 1) and memory stays bounded by nlp.pipe's own look-ahead. One call matters:
with n_process > 1 each call starts new processes."""
import os
import sys
from pathlib import Path
from collections import deque
from typing import Deque, Iterable, Iterator, Optional, Tuple, Union

import spacy
import srsly
from spacy.language import Language
from spacy.tokens import Doc

from .errors import ProcessError
from .records import Outcome, Record, doc_entities, length_problem, score_span_keys


def load_pipeline(model: str, gpu_id: int = -1) -> Language:
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    try:
        nlp = spacy.load(model)
    except OSError as error:
        raise ProcessError(
            f"Cannot load the pipeline {model!r}: {error}. Give the path of a trained pipeline "
            f"directory or the name of an installed pipeline package."
        ) from error
    except ValueError as error:
        # A broken or mismatched pipeline directory: damaged weights (ModelLoadError), a config
        # naming an unknown component or architecture, a component another package provides.
        raise ProcessError(
            f"Cannot load the pipeline {model!r}: {error}\nThe pipeline directory is damaged or does not "
            f"match the installed packages; restore it from a good copy, install what it needs, or retrain."
        ) from error
    _check_meta_pipeline(model, nlp)
    return nlp


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
        raise ProcessError(
            f"Cannot use the pipeline {model!r}: its meta.json lists the component(s) {', '.join(map(repr, missing))}, "
            f"which its config.cfg does not define (components: {', '.join(nlp.component_names) or 'none'}). "
            f"The directory mixes files of different pipelines; restore it from a good copy, or retrain."
        )


_FORK_HOOK_REGISTERED = False


def _one_torch_thread_in_forked_children() -> None:
    """nlp.pipe(n_process > 1) forks. A child that inherits PyTorch's intra-op thread
    pool from a parent that already used it hangs in its first forward pass; with one
    thread per child (each child is one of the n_process workers anyway) it does not."""
    global _FORK_HOOK_REGISTERED
    torch = sys.modules.get("torch")
    if _FORK_HOOK_REGISTERED or torch is None:
        return
    os.register_at_fork(after_in_child=lambda: torch.set_num_threads(1))
    _FORK_HOOK_REGISTERED = True


def _pipe_input(nlp: Language, record: Record, problem: Optional[str]) -> Union[str, Doc]:
    if problem is not None:
        return ""
    if record.words is not None:
        return Doc(nlp.vocab, words=record.words, spaces=record.spaces)
    return record.text


def process_records(
    nlp: Language,
    records: Iterable[Record],
    *,
    batch_size: int,
    n_process: int = 1,
    keep_docs: bool = False,
    docs_as_bytes: bool = False,
) -> Iterator[Outcome]:
    """Yield one Outcome per record, in order."""
    span_keys = score_span_keys(nlp)
    if n_process > 1:
        _one_torch_thread_in_forked_children()
    pending: Deque[Tuple[Record, Optional[str]]] = deque()

    def feed() -> Iterator[Union[str, Doc]]:
        for record in records:
            problem = record.error or length_problem(record, nlp.max_length)
            pending.append((record.without_content(), problem))
            yield _pipe_input(nlp, record, problem)

    for doc in nlp.pipe(feed(), batch_size=batch_size, n_process=n_process):
        record, problem = pending.popleft()
        if problem is not None:
            yield Outcome(record, error=problem)
            continue
        outcome = Outcome(record, entities=doc_entities(doc, span_keys), n_words=len(doc))
        if keep_docs:
            if docs_as_bytes:
                outcome.doc_bytes = doc.to_bytes(exclude=["user_data"])
            else:
                outcome.doc = doc
        yield outcome
    if pending:
        raise RuntimeError(f"nlp.pipe returned fewer docs than it was given ({len(pending)} missing)")
