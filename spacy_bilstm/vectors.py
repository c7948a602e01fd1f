"""Word vectors for training: a GloVe/word2vec text file (or .gz) is converted once with
spaCy's own vectors machinery into a pipeline directory that `[initialize] vectors` loads;
a spaCy pipeline or vectors directory is used as it is."""
import json
from itertools import islice
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, Optional, Union

import spacy
import srsly
from spacy.training.initialize import convert_vectors, open_file
from spacy.vectors import Vectors

from .errors import SpacyBilstmError
from .files import atomic_write_dir

VECTOR_ATTRS = ("LOWER", "ORTH")
# Lines read to decide between LOWER and ORTH: enough to meet "The"/"U.S."-style keys in any
# cased vectors file (they sort by frequency), cheap even for a multi-GB file.
ATTR_SNIFF_LINES = 1000
CACHE_STAMP = "spacy-bilstm-source.json"

PathLike = Union[str, Path]


class VectorsError(SpacyBilstmError):
    """A vectors file or directory a user got wrong: what, where, and what to do."""


def _data_lines(path: Path) -> Iterator[str]:
    """Lines of a vectors text file, without a word2vec "count width" header."""
    lines = open_file(path)
    try:
        for number, line in enumerate(lines):
            if number == 0 and _header_width(line) is not None:
                continue
            yield line
    finally:
        close = getattr(lines, "close", None)
        if close is not None:
            close()


def _header_width(line: str) -> Optional[int]:
    parts = line.split()
    if len(parts) == 2 and all(part.isdigit() for part in parts):
        return int(parts[1])
    return None


def text_vectors_width(path: PathLike) -> int:
    """The width of a GloVe/word2vec text file, read from its first two lines only."""
    path = Path(path)
    try:
        head = list(islice(open_file(path), 2))
    except (OSError, UnicodeDecodeError, EOFError) as error:
        raise VectorsError(
            f"{path}: cannot read it as a word-vector text file ({type(error).__name__}: {error}). "
            f"Pass a GloVe or word2vec text file (optionally .gz), or a spaCy vectors directory."
        ) from None
    if not head:
        raise VectorsError(f"{path}: the vectors file is empty. Pass a GloVe or word2vec text file.")
    header = _header_width(head[0])
    row_number = 2 if header is not None else 1
    row = head[row_number - 1] if len(head) >= row_number else None
    if row is None:
        raise VectorsError(f"{path}: the vectors file has a header line but no vectors.")
    width = header if header is not None else len(row.rstrip().split(" ")) - 1
    # spaCy splits from the right, so words that contain spaces are read whole.
    pieces = row.rstrip().rsplit(" ", width)
    try:
        valid = width >= 1 and len(pieces) == width + 1 and all(float(value) is not None for value in pieces[1:])
    except ValueError:
        valid = False
    if not valid:
        raise VectorsError(
            f"{path}, line {row_number}: expected a word followed by {width} numbers separated by spaces, "
            f"got {row[:80]!r}. Pass a GloVe or word2vec text file (optionally .gz)."
        )
    return width


def default_vectors_attr(path: PathLike, n_lines: int = ATTR_SNIFF_LINES) -> str:
    """LOWER when none of the first `n_lines` keys has an uppercase letter (lowercased vectors
    such as GloVe 6B: looking up "Paris" must find "paris"), else ORTH."""
    for line in islice(_data_lines(Path(path)), n_lines):
        word = line.split(" ", 1)[0]
        if word != word.lower():
            return "ORTH"
    return "LOWER"


def directory_vectors_width(path: Path) -> int:
    """Width of the vectors in a spaCy pipeline directory (config.cfg + vocab/) or a vectors
    directory as `Vectors.to_disk` writes it."""
    meta_path = path / "meta.json"
    if (path / "config.cfg").exists():
        meta = srsly.read_json(meta_path) if meta_path.exists() else {}
        width = meta.get("vectors", {}).get("width")
        if width is None:
            width = _load_vectors(path / "vocab").shape[1]
        return int(width)
    return int(_load_vectors(path).shape[1])


def _load_vectors(directory: Path) -> Vectors:
    vectors = Vectors()
    vectors.from_disk(directory)
    return vectors


def _is_vectors_directory(path: Path) -> bool:
    return (path / "vectors").exists() and ((path / "key2row").exists() or (path / "key2row.npy").exists())


def vectors_width(path: PathLike) -> int:
    """The vector width of `path` (text file or directory), read without converting anything."""
    path = Path(path)
    if not path.exists():
        raise VectorsError(f"{path}: no such vectors file or directory. Check the --vectors path.")
    if path.is_file():
        return text_vectors_width(path)
    if not (path / "config.cfg").exists() and not _is_vectors_directory(path):
        raise VectorsError(
            f"{path}: not a spaCy pipeline directory (no config.cfg) nor a spaCy vectors directory "
            f"(no 'vectors' and 'key2row' files). Pass a GloVe/word2vec text file, the output of "
            f"`python -m spacy init vectors`, or a directory written by Vectors.to_disk."
        )
    return directory_vectors_width(path)


def _source_stamp(path: Path, attr: str) -> Dict[str, Any]:
    stat = path.stat()
    return {
        "source": str(path.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "attr": attr,
        "spacy": spacy.__version__,
    }


def prepare_vectors(
    path: PathLike,
    cache_dir: PathLike,
    *,
    lang: str = "en",
    attr: Optional[str] = None,
    log=print,
) -> Path:
    """Return a directory that `[initialize] vectors` can load.

    A text file is converted once into `cache_dir` (with `attr` as the lookup attribute,
    default from `default_vectors_attr`); a later call with the same file and attribute reuses
    it. A spaCy pipeline directory is returned as it is; a bare vectors directory is wrapped in
    a pipeline directory in `cache_dir`.
    """
    path = Path(path)
    cache_dir = Path(cache_dir)
    vectors_width(path)  # says what is wrong with the input before anything is written
    if attr is not None:
        attr = attr.upper()
        if attr not in VECTOR_ATTRS:
            raise VectorsError(f"Unknown vectors attribute {attr!r}; choose {' or '.join(VECTOR_ATTRS)}.")
    if path.is_dir():
        if attr is not None:
            raise VectorsError(
                f"--vectors-attr applies to vector text files only: the vectors in {path} already have "
                f"their lookup attribute. Leave --vectors-attr out, or convert the text file again."
            )
        if (path / "config.cfg").exists():
            return path
        nlp = spacy.blank(lang)
        nlp.vocab.vectors = _load_vectors(path)
        _write_atomically(cache_dir, nlp.to_disk, _source_stamp(path, nlp.vocab.vectors.attr))
        log(f"Wrapped the vectors directory {path} as a pipeline in {cache_dir}")
        return cache_dir
    if attr is None:
        attr = default_vectors_attr(path)
        log(f"Vectors attribute: {attr} (" + ("no uppercase keys" if attr == "LOWER" else "cased keys")
            + f" in the first {ATTR_SNIFF_LINES} lines of {path.name}; set --vectors-attr to change it)")
    stamp = _source_stamp(path, attr)
    stamp_path = cache_dir / CACHE_STAMP
    if stamp_path.exists() and (cache_dir / "config.cfg").exists():
        try:
            if json.loads(stamp_path.read_text(encoding="utf-8")) == stamp:
                log(f"Using the vectors converted earlier in {cache_dir}")
                return cache_dir
        except ValueError:
            pass  # a damaged stamp: convert again
    log(f"Converting the vectors in {path} (once; cached in {cache_dir})")
    nlp = spacy.blank(lang)
    try:
        # Lowercased vectors are keyed by ORTH plus Title and UPPER aliases of every key:
        # spaCy 3.8 does not save a LOWER lookup attribute with a pipeline (see below), so a
        # LOWER table would be read as ORTH after any re-save, and "Paris" would silently miss.
        convert_vectors(nlp, path, truncate=0, prune=-1, attr="ORTH")
        if attr == "LOWER":
            add_case_aliases(nlp.vocab)
    except ValueError as error:
        raise VectorsError(
            f"{path}: spaCy could not read the vectors: {error} Check that every line is a word "
            f"followed by the same number of values."
        ) from None
    _write_atomically(cache_dir, nlp.to_disk, stamp)
    log(f"Converted {len(nlp.vocab.vectors):,} vectors of width {nlp.vocab.vectors.shape[1]}")
    return cache_dir


def add_case_aliases(vocab) -> int:
    """Make each lowercase key's vector also the vector of its Title and UPPER forms (the same
    row, no new data). Returns how many keys were added."""
    vectors = vocab.vectors
    added = 0
    for key, row in list(vectors.key2row.items()):
        word = vocab.strings[key]
        for alias in {word.title(), word.upper()} - {word}:
            alias_key = vocab.strings.add(alias)
            if alias_key not in vectors.key2row:
                vectors.add(alias_key, row=row)
                added += 1
    return added


# spaCy 3.8's Vectors.to_disk writes the lookup attribute to vocab/vectors.cfg for floret
# vectors only, while Vectors.from_disk reads it in every mode: LOWER-keyed vectors come back
# as ORTH-keyed, and "Paris" silently misses the "paris" vector. The attribute is written into
# the cfg here and copied into the trained pipelines after spaCy saves them.
def vectors_cfg_attr(pipeline_dir: PathLike) -> Optional[int]:
    cfg_path = Path(pipeline_dir) / "vocab" / "vectors.cfg"
    if not cfg_path.is_file():
        return None
    return srsly.read_json(cfg_path).get("attr")


def write_vectors_cfg_attr(pipeline_dir: PathLike, attr: int) -> None:
    cfg_path = Path(pipeline_dir) / "vocab" / "vectors.cfg"
    if not cfg_path.is_file():
        return
    cfg = srsly.read_json(cfg_path)
    if cfg.get("attr") != attr:
        cfg["attr"] = attr
        srsly.write_json(cfg_path, cfg)


def _write_atomically(target: Path, write, stamp: Dict[str, Any]) -> None:
    """The cache and its stamp appear together or not at all, so an interrupted conversion never
    leaves a half-written cache that a later run would take for a finished one."""

    def write_with_stamp(partial: Path) -> None:
        write(partial)
        (partial / CACHE_STAMP).write_text(json.dumps(stamp, indent=2), encoding="utf-8")

    atomic_write_dir(target, write_with_stamp)


def static_vectors_widths(model_bytes: bytes) -> Iterable[int]:
    """The input widths (nM) of the StaticVectors layers in serialized thinc model weights
    (a component's `model` file, or an `init_tok2vec` file): the vector width it was trained with."""
    try:
        msg = srsly.msgpack_loads(model_bytes)
    except Exception:
        return []
    nodes = msg.get("nodes", []) if isinstance(msg, dict) else []
    return [
        int(node["dims"]["nM"])
        for node in nodes
        if isinstance(node, dict) and node.get("name") == "static_vectors" and node.get("dims", {}).get("nM")
    ]
