"""The corpus catalogue and `corpora fetch`, against an HTTP server on 127.0.0.1 only."""
import functools
import hashlib
import http.server
import io
import json
import re
import threading

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_bilstm.cli import app
from spacy_bilstm.corpora import CorpusError, fetch_corpus, load_catalogue
from spacy_bilstm.corpora.catalogue import CATALOGUE_ENV, DEFAULT_CATALOGUE

TRAIN = "-DOCSTART- O\n\nAnn B-PER\nvisited O\nOslo B-LOC\n. O\n"
DEV = "Bob B-PER\nsmiled O\n\nRome B-LOC\n"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # A proxy from the environment must not intercept requests meant for 127.0.0.1.
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture()
def server(tmp_path):
    """Serves tmp_path/www on an ephemeral port of 127.0.0.1."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "train.txt").write_text(TRAIN)
    (root / "dev.txt").write_text(DEV)
    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def write_catalogue(tmp_path, base_url, *, train_sha, dev_sha=None, downloadable=True):
    entry = {
        "name": "tiny", "title": "Tiny test corpus", "language": "en", "homepage": base_url,
        "format": "conll", "scheme": "iob2", "licence": "CC0", "citation": "none",
        "downloadable": downloadable, "how_to_get": "Ask the tiny corpus team.",
        "reader_options": {"lang": "en"},
        "files": [
            {"split": "train", "filename": "train.txt", "url": f"{base_url}/train.txt", "sha256": train_sha},
            {"split": "dev", "filename": "dev.txt", "url": f"{base_url}/dev.txt", "sha256": dev_sha or sha256(DEV)},
        ],
    }
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({"version": 1, "corpora": [entry]}))
    return path


def test_fetch_downloads_verifies_and_converts(tmp_path, server):
    catalogue = write_catalogue(tmp_path, server, train_sha=sha256(TRAIN))
    progress = io.StringIO()
    summaries = fetch_corpus("tiny", tmp_path / "out", catalogue=catalogue, stream=progress)
    assert (summaries["train"].documents, summaries["train"].entities) == (1, 2)
    assert (summaries["dev"].documents, summaries["dev"].entities) == (2, 2)
    docs = list(DocBin().from_disk(tmp_path / "out" / "train.spacy").get_docs(spacy.blank("en").vocab))
    assert [(e.text, e.label_) for e in docs[0].ents] == [("Ann", "PER"), ("Oslo", "LOC")]
    assert (tmp_path / "out" / "raw" / "dev.txt").read_text() == DEV
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dev.spacy", "raw", "train.spacy"]
    assert "tiny train" in progress.getvalue() and "100.0%" in progress.getvalue()


def test_progress_on_a_stream_that_is_not_a_terminal_is_each_final_bar_once_without_control_characters(
    tmp_path, server
):
    catalogue = write_catalogue(tmp_path, server, train_sha=sha256(TRAIN))
    progress = io.StringIO()
    fetch_corpus("tiny", tmp_path / "out", catalogue=catalogue, stream=progress)
    lines = progress.getvalue().splitlines()
    assert [line.split()[:2] for line in lines] == [["tiny", "train"], ["tiny", "dev"]]
    assert all("100.0%" in line for line in lines)
    assert "\r" not in progress.getvalue() and "\x1b" not in progress.getvalue()


def test_checksum_mismatch_is_an_error_that_keeps_nothing(tmp_path, server):
    catalogue = write_catalogue(tmp_path, server, train_sha=sha256(TRAIN), dev_sha="0" * 64)
    with pytest.raises(CorpusError, match="Checksum mismatch") as info:
        fetch_corpus("tiny", tmp_path / "out", catalogue=catalogue, stream=io.StringIO())
    assert sha256(DEV) in str(info.value)
    assert not (tmp_path / "out").exists()


def test_checksum_mismatch_leaves_an_existing_folder_as_it_was(tmp_path, server):
    catalogue = write_catalogue(tmp_path, server, train_sha="f" * 64)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(CorpusError):
        fetch_corpus("tiny", out, catalogue=catalogue, stream=io.StringIO())
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_a_file_without_a_known_checksum_is_kept_only_with_no_verify(tmp_path, server):
    catalogue = write_catalogue(tmp_path, server, train_sha=None)
    with pytest.raises(CorpusError, match="no sha256") as info:
        fetch_corpus("tiny", tmp_path / "out", catalogue=catalogue, stream=io.StringIO())
    assert "--no-verify" in str(info.value)
    assert not (tmp_path / "out").exists()
    summaries = fetch_corpus("tiny", tmp_path / "out", catalogue=catalogue, verify=False, stream=io.StringIO())
    assert summaries["train"].tokens == 4


def test_a_corpus_that_cannot_be_downloaded_says_how_to_get_it(tmp_path, server):
    catalogue = write_catalogue(tmp_path, server, train_sha=sha256(TRAIN), downloadable=False)
    with pytest.raises(CorpusError, match="Ask the tiny corpus team"):
        fetch_corpus("tiny", tmp_path / "out", catalogue=catalogue)


def test_unknown_name_lists_the_choices(tmp_path, server):
    catalogue = write_catalogue(tmp_path, server, train_sha=None)
    with pytest.raises(CorpusError, match="choose one of: tiny"):
        fetch_corpus("nope", tmp_path / "out", catalogue=catalogue)


def test_unreachable_url_is_an_error_that_keeps_nothing(tmp_path, server):
    catalogue = write_catalogue(tmp_path, server + "/missing", train_sha=sha256(TRAIN))
    with pytest.raises(CorpusError, match="Downloading .* failed"):
        fetch_corpus("tiny", tmp_path / "out", catalogue=catalogue, stream=io.StringIO())
    assert not (tmp_path / "out").exists()


def test_cli_fetch_shows_progress_on_stderr_and_summaries_on_stdout(tmp_path, server):
    catalogue = write_catalogue(tmp_path, server, train_sha=sha256(TRAIN))
    result = CliRunner().invoke(app, ["corpora", "fetch", "tiny", "--to", str(tmp_path / "out"),
                                      "--catalogue", str(catalogue)])
    assert result.exit_code == 0, result.output
    assert "tiny train" in result.stderr
    assert "entities    2" in result.stdout
    assert (tmp_path / "out" / "dev.spacy").is_file()


def test_cli_fetch_mismatch_exits_non_zero(tmp_path, server, monkeypatch):
    monkeypatch.setenv(CATALOGUE_ENV, str(write_catalogue(tmp_path, server, train_sha="0" * 64)))
    result = CliRunner().invoke(app, ["corpora", "fetch", "tiny", "--to", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "Checksum mismatch" in result.stderr
    assert not (tmp_path / "out").exists()


def test_cli_list_reads_the_catalogue_from_the_environment(tmp_path, server, monkeypatch):
    monkeypatch.setenv(CATALOGUE_ENV, str(write_catalogue(tmp_path, server, train_sha=None)))
    result = CliRunner().invoke(app, ["corpora", "list"])
    assert result.exit_code == 0, result.output
    assert "tiny" in result.stdout and "needs --no-verify" in result.stdout


def test_packaged_catalogue_lists_the_corpora_users_want():
    entries = load_catalogue(DEFAULT_CATALOGUE)
    assert {"conll2003-en", "conll2003-de", "conll2002-es", "conll2002-nl", "wnut17", "wikiann", "ontonotes5",
            "germeval2014"} <= set(entries)
    for entry in entries.values():
        assert entry.homepage.startswith("https://") and entry.licence and entry.citation
        assert entry.format in ("conll", "columns", "jsonl") and entry.scheme in ("iob1", "iob2", "bioes", "biluo", "io")
        for item in entry.files:
            assert item.url.startswith("https://")
            assert item.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", item.sha256)
    assert not entries["ontonotes5"].downloadable and "LDC" in entries["ontonotes5"].how_to_get


def test_every_downloadable_file_has_a_checksum_and_its_source():
    for entry in load_catalogue(DEFAULT_CATALOGUE).values():
        if entry.downloadable:
            assert entry.files
            assert all(item.sha256 and item.sha256_source for item in entry.files), entry.name


def test_wnut17_checksums_match_the_published_files(shared_dir):
    """The shared copies are the original 2017 release: train and test are unchanged upstream;
    the dev file upstream has since lost the byte-order mark on its last line and had the I- tag
    on line 1674 made a B- tag, and the catalogue's sha256 is that of the fixed file."""
    expected = {item.split: item.sha256 for item in load_catalogue(DEFAULT_CATALOGUE)["wnut17"].files}
    folder = shared_dir / "corpora" / "wnut17"
    assert hashlib.sha256((folder / "train.conll").read_bytes()).hexdigest() == expected["train"]
    assert hashlib.sha256((folder / "test.conll").read_bytes()).hexdigest() == expected["test"]
    lines = (folder / "dev.conll").read_bytes().split(b"\n")
    assert lines[1673] == b"Turn\tI-creative-work" and lines[-2:] == [b"\xef\xbb\xbf", b""]
    lines[1673] = b"Turn\tB-creative-work"
    fixed = b"\n".join(lines[:-2] + [b"", b""])
    assert hashlib.sha256(fixed).hexdigest() == expected["dev"]


def test_ontonotes_fetch_explains_the_ldc_licence():
    with pytest.raises(CorpusError, match="LDC"):
        fetch_corpus("ontonotes5", "unused", catalogue=DEFAULT_CATALOGUE)
