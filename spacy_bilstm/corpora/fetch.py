"""Downloading a catalogued corpus: progress to stderr, sha256 check, conversion to DocBin."""
import hashlib
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Optional, TextIO, Union

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskProgressColumn, TextColumn

from .catalogue import CatalogueEntry, load_catalogue
from .errors import CorpusError
from .readers import Summary, read_corpus
from .writers import write_docbin

_CHUNK = 1 << 16


def _progress(stream: TextIO) -> Progress:
    # rich redraws the bar in place only on a terminal; a log file or pipe gets the final state
    # of each bar once, with no control characters.
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=30),
        TaskProgressColumn(text_format="{task.percentage:>5.1f}%"),
        DownloadColumn(),
        console=Console(file=stream, highlight=False),
        refresh_per_second=10,
    )


def download(url: str, target: Path, *, label: str, stream: Optional[TextIO] = None, timeout: float = 60.0) -> str:
    """Stream `url` into `target` with a progress bar on `stream` (default stderr); return the
    file's sha256."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, target.open("wb") as out, \
                _progress(stream or sys.stderr) as progress:
            length = response.headers.get("Content-Length")
            task = progress.add_task(label, total=int(length) if length and length.isdigit() else None)
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                progress.advance(task, len(chunk))
    except (urllib.error.URLError, OSError) as err:
        raise CorpusError(f"downloading {url} failed ({err})", hint="check the network connection and the URL") from None
    return digest.hexdigest()


def fetch_corpus(
    name: str,
    to_dir: Union[str, Path],
    *,
    catalogue: Optional[Union[str, Path]] = None,
    verify: bool = True,
    stream: Optional[TextIO] = None,
) -> Dict[str, Summary]:
    """Download the files of catalogue entry `name`, check their sha256, and convert each
    to `<to_dir>/<split>.spacy`, keeping the originals in `<to_dir>/raw/`.

    Everything happens in a temporary folder inside `to_dir` and is moved into place only
    when every file has been verified and converted, so a failure keeps nothing. A file the
    catalogue has no checksum for is refused unless `verify` is False.
    """
    entries = load_catalogue(catalogue)
    if name not in entries:
        raise CorpusError(f"no corpus named {name!r} in the catalogue",
                          hint=f"choose one of: {', '.join(sorted(entries))} (see `spacy-bilstm corpora list`)")
    entry: CatalogueEntry = entries[name]
    if not entry.downloadable or not entry.files:
        raise CorpusError(f"{entry.title} cannot be downloaded automatically (licence: {entry.licence})",
                          hint=entry.how_to_get)
    to_dir = Path(to_dir)
    created = not to_dir.exists()
    to_dir.mkdir(parents=True, exist_ok=True)
    options = {"encoding": entry.encoding, **entry.reader_options}
    workdir = Path(tempfile.mkdtemp(prefix=f".fetch-{name}-", dir=to_dir))
    try:
        (workdir / "raw").mkdir()
        for item in entry.files:
            raw = workdir / "raw" / item.filename
            actual = download(item.url, raw, label=f"{name} {item.split}", stream=stream)
            if item.sha256 is None:
                if verify:
                    raise CorpusError(
                        f"the catalogue has no sha256 for {item.url} (downloaded sha256 {actual}), so the file "
                        "cannot be verified; nothing was kept",
                        hint="pass --no-verify to keep an unverified download",
                    )
            elif actual != item.sha256.lower():
                raise CorpusError(
                    f"checksum mismatch for {item.url}: sha256 {actual}, the catalogue expects {item.sha256}; "
                    "nothing was kept",
                    hint="retry later; if it persists the published file has changed: report it",
                )
        summaries: Dict[str, Summary] = {}
        for item in entry.files:
            result = read_corpus(workdir / "raw" / item.filename, **options)
            write_docbin(result.docs, workdir / f"{item.split}.spacy")
            summaries[item.split] = result.summary
        (to_dir / "raw").mkdir(exist_ok=True)
        for item in entry.files:
            (workdir / "raw" / item.filename).replace(to_dir / "raw" / item.filename)
            (workdir / f"{item.split}.spacy").replace(to_dir / f"{item.split}.spacy")
            summaries[item.split].source = str(to_dir / "raw" / item.filename)
            summaries[item.split].notes.append(f"wrote {to_dir / (item.split + '.spacy')}")
        return summaries
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        if created and not any(to_dir.iterdir()):
            to_dir.rmdir()
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
