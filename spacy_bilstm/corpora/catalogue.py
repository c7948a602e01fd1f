"""The catalogue of public NER corpora (package data `corpora_data/catalogue.json`)."""
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from .errors import CorpusError

DEFAULT_CATALOGUE = Path(__file__).resolve().parent.parent / "corpora_data" / "catalogue.json"
# Lets tests and mirrors point `corpora list|fetch` at another catalogue file.
CATALOGUE_ENV = "SPACY_BILSTM_CATALOGUE"
_REQUIRED = ("name", "title", "language", "homepage", "format", "scheme", "licence", "citation", "downloadable",
             "how_to_get", "files")


@dataclass(frozen=True)
class CatalogueFile:
    split: str
    filename: str
    url: str
    sha256: Optional[str]
    # Where the expected sha256 comes from (a published record, or a check made here).
    sha256_source: str = ""


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    title: str
    language: str
    homepage: str
    format: str
    scheme: str
    licence: str
    citation: str
    downloadable: bool
    how_to_get: str
    files: List[CatalogueFile]
    encoding: str = "utf-8"
    format_detail: str = ""
    scheme_detail: str = ""
    reader_options: Dict[str, Any] = field(default_factory=dict)


def catalogue_path(path: Optional[Union[str, Path]] = None) -> Path:
    if path is not None:
        return Path(path)
    if os.environ.get(CATALOGUE_ENV):
        return Path(os.environ[CATALOGUE_ENV])
    return DEFAULT_CATALOGUE


def load_catalogue(path: Optional[Union[str, Path]] = None) -> Dict[str, CatalogueEntry]:
    """Entries by name, from `path`, else $SPACY_BILSTM_CATALOGUE, else the packaged file."""
    path = catalogue_path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorpusError("catalogue file not found", path=path, hint=f"check --catalogue or ${CATALOGUE_ENV}") from None
    except json.JSONDecodeError as err:
        raise CorpusError(f"the catalogue is not valid JSON ({err.msg})", path=path, line=err.lineno) from None
    entries: Dict[str, CatalogueEntry] = {}
    for i, raw in enumerate(data.get("corpora", [])):
        missing = [key for key in _REQUIRED if key not in raw]
        if missing:
            raise CorpusError(f"catalogue entry {i} ({raw.get('name', '?')}) lacks {', '.join(missing)}", path=path)
        sha_bad = [f for f in raw["files"] if f.get("sha256") is not None and len(str(f["sha256"])) != 64]
        if sha_bad:
            raise CorpusError(f"catalogue entry {raw['name']}: sha256 must be 64 hex digits or null", path=path)
        files = [
            CatalogueFile(f["split"], f["filename"], f["url"], f.get("sha256"), f.get("sha256_source", ""))
            for f in raw["files"]
        ]
        known = {k: v for k, v in raw.items() if k in CatalogueEntry.__dataclass_fields__ and k != "files"}
        entries[raw["name"]] = CatalogueEntry(files=files, **known)
    return entries
