"""Reading a corpus file's text: gzip, encodings and byte-order marks, line ends; and the blank
pipeline whose vocab (and tokenizer) the readers use."""
import gzip
import re
import zlib
from pathlib import Path
from typing import Optional

import spacy
from spacy.language import Language
from spacy.vocab import Vocab

from .errors import CorpusError

_GZIP_MAGIC = b"\x1f\x8b"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Line ends: CRLF, LF, and a lone CR (old Mac files), like Python's universal newlines. A lone
# CR left inside a line would glue two token lines into one and silently lose a token.
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def blank_nlp(lang: str, vocab: Optional[Vocab] = None) -> Language:
    try:
        return spacy.blank(lang, vocab=vocab if vocab is not None else True)
    except (ImportError, KeyError, ValueError) as err:
        raise CorpusError(
            f"spaCy has no language {lang!r} ({err.__class__.__name__})",
            hint="pass --lang with a code spaCy supports, e.g. en, de, es, nl, or xx for multi-language",
        ) from None


def read_text(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise CorpusError(f"the file starts like gzip but cannot be decompressed ({err})", path=path,
                              hint="re-download it or decompress it yourself") from None
    if not data.strip():
        raise CorpusError("the file is empty", path=path, hint="check that the right file was given")
    is_utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8")
    if is_utf8 and data[:2] in _UTF16_BOMS:
        raise CorpusError("the file is UTF-16 (it starts with a UTF-16 byte-order mark), not UTF-8", path=path,
                          hint="pass --encoding utf-16, or convert it with `iconv -f utf-16 -t utf-8`")
    nul = data.find(b"\x00")
    if is_utf8 and nul >= 0:
        raise CorpusError(
            f"the file is binary, not a text corpus (a NUL byte at byte offset {nul})", path=path,
            line=data[:nul].count(b"\n") + 1,
            hint="if it is a spaCy DocBin, give it the .spacy suffix or pass --format spacy; otherwise check "
            "that the right file was given",
        )
    codec = "utf-8-sig" if is_utf8 else encoding
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise CorpusError(
            f"byte {data[err.start]:#04x} at byte offset {err.start} cannot be decoded as {encoding}",
            path=path,
            line=line,
            hint="convert the file to UTF-8 (e.g. `iconv -f latin1 -t utf-8`) or pass --encoding with the "
            "file's encoding (CoNLL-2002 is latin-1)",
        ) from None
    except LookupError:
        raise CorpusError(f"unknown encoding {encoding!r}", hint="pass a Python codec name such as utf-8 or latin-1") from None
    return text


def is_blank(line: str) -> bool:
    # A stray byte-order mark on an otherwise empty line (WNUT-17's dev file ends with one)
    # carries no token, so it separates sentences like any blank line.
    return not line.replace("\ufeff", "").strip()
