"""`spacy-bilstm package`: spaCy's packaging with a compatible spacy-bilstm requirement, and a
wheel that installs offline into a fresh environment and tags exactly like its source."""
import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import spacy
import srsly
from typer.testing import CliRunner

from spacy_bilstm.about import __version__
from spacy_bilstm.cli import app
from spacy_bilstm.packaging import PackagingError, own_requirement, package
from spacy_bilstm.training import shipped_configs_dir, train

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "corpora" / "sample"
SENTENCES = [
    "Halvorsen Shipping said on Monday that it would cut 400 jobs at its yard in Bergen.",
    "Angela Merkel met officials from the European Commission in Brussels.",
]
runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("trained")
    train("bilstm_crf", out, train_path=SAMPLE / "train.conll", dev_path=SAMPLE / "dev.conll",
          overrides={"training.max_steps": 4, "training.eval_frequency": 2}, log=lambda _: None)
    return out / "model-last"


def test_the_requirement_pins_the_current_minor_version():
    major, minor, _ = __version__.split(".")
    assert own_requirement() == f"spacy-bilstm>={major}.{minor}.0,<{major}.{int(minor) + 1}.0"


def test_package_folder_requires_spacy_bilstm_and_spacy(tiny_model, tmp_path):
    result = package(tiny_model, tmp_path, name="sample_ner", version="1.2.3", wheel=False, log=lambda _: None)
    assert result.package_dir == tmp_path / "en_sample_ner-1.2.3" and result.name == "en_sample_ner"
    meta = srsly.read_json(result.package_dir / "meta.json")
    assert own_requirement() in meta["requirements"]
    assert any(req.startswith("spacy>=") for req in meta["requirements"])
    assert [req for req in meta["requirements"] if req.startswith("spacy-bilstm")] == [own_requirement()]
    assert result.wheel is None


@pytest.mark.slow
def test_a_wheel_is_built_into_dist_for_a_relative_output_dir(tiny_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = package(tiny_model, Path("packages"), name="sample_ner", version="0.1.0", log=lambda _: None)
    assert result.wheel.resolve() == (tmp_path / "packages/en_sample_ner-0.1.0/dist/en_sample_ner-0.1.0-py3-none-any.whl")
    with zipfile.ZipFile(result.wheel) as wheel:
        assert "en_sample_ner/en_sample_ner-0.1.0/bilstm_ner/model" in wheel.namelist()


def test_an_existing_package_folder_needs_force(tiny_model, tmp_path):
    package(tiny_model, tmp_path, name="sample_ner", version="0.0.1", wheel=False, log=lambda _: None)
    with pytest.raises(PackagingError, match="already exists.*--force"):
        package(tiny_model, tmp_path, name="sample_ner", version="0.0.1", wheel=False, log=lambda _: None)
    package(tiny_model, tmp_path, name="sample_ner", version="0.0.1", wheel=False, force=True, log=lambda _: None)


@pytest.mark.parametrize(
    "name, version, message",
    [("sample-ner", "0.1.0", "Python identifier"), ("sample_ner", "1.0", "MAJOR.MINOR.PATCH")],
)
def test_bad_names_and_versions_exit_non_zero_with_the_fix(tiny_model, tmp_path, name, version, message):
    result = runner.invoke(app, ["package", str(tiny_model), str(tmp_path), "--name", name, "--version", version])
    assert result.exit_code == 1
    assert message in result.output
    assert not any(tmp_path.iterdir())


def test_a_directory_that_is_not_a_pipeline_is_refused(tmp_path):
    result = runner.invoke(app, ["package", str(SAMPLE), str(tmp_path / "out"), "--name", "x", "--version", "0.1.0"])
    assert result.exit_code == 1
    assert str(SAMPLE) in result.output and "config.cfg" in result.output


def test_shipped_configs_are_package_data_from_a_single_source():
    assert (REPO / "spacy_bilstm" / "configs").resolve() == (REPO / "configs").resolve()
    assert shipped_configs_dir().resolve() == (REPO / "configs").resolve()


def _tag(nlp, sentences):
    out = []
    for doc in nlp.pipe(sentences):
        group = doc.spans[nlp.get_pipe("bilstm_ner").spans_key]
        emissions = nlp.get_pipe("bilstm_ner").model.predict([doc]).emissions[0]
        out.append({
            "ents": [[ent.start_char, ent.end_char, ent.label_] for ent in doc.ents],
            "scores": [round(float(score), 6) for score in group.attrs["scores"]],
            "emissions": [[round(float(value), 5) for value in row] for row in emissions.tolist()],
        })
    return out


TAG_SCRIPT = """
import json, sys, spacy, spacy_bilstm
from spacy_bilstm.training import shipped_config_names
nlp = spacy.load(sys.argv[1])
out = []
for doc in nlp.pipe(json.loads(sys.argv[2])):
    group = doc.spans[nlp.get_pipe("bilstm_ner").spans_key]
    emissions = nlp.get_pipe("bilstm_ner").model.predict([doc]).emissions[0]
    out.append({
        "ents": [[ent.start_char, ent.end_char, ent.label_] for ent in doc.ents],
        "scores": [round(float(score), 6) for score in group.attrs["scores"]],
        "emissions": [[round(float(value), 5) for value in row] for row in emissions.tolist()],
    })
print(json.dumps({"tagged": out, "package": str(nlp.path), "spacy_bilstm": spacy_bilstm.__file__,
                  "configs": shipped_config_names()}))
"""


def _run(command, **kwargs):
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, command))}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_the_wheel_installs_offline_in_a_fresh_venv_and_tags_like_its_source(tiny_model, tmp_path):
    result = package(tiny_model, tmp_path / "packages", name="sample_ner", version="0.1.0", log=lambda _: None)
    with zipfile.ZipFile(result.wheel) as wheel:
        metadata = next(wheel.read(n).decode() for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    pinned = [line for line in metadata.splitlines() if line.startswith("Requires-Dist: spacy-bilstm")]
    assert len(pinned) == 1 and set(pinned[0].split(" ", 1)[1][len("spacy-bilstm"):].split(",")) == set(
        own_requirement()[len("spacy-bilstm"):].split(",")
    )

    # spacy-bilstm itself, built from the working tree as a real (not editable) wheel.
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
          "--wheel-dir", str(wheels), str(REPO)])
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "", "PIP_CONSTRAINT": "", "PIP_EXTRA_INDEX_URL": ""}
    env.pop("PYTHONPATH", None)
    _run([python, "-m", "pip", "install", "--no-index", "--no-deps", "--find-links", str(wheels), "spacy-bilstm"], env=env)
    # venv's bundled setuptools is older than torch requires; this environment's takes its place.
    _run([python, "-m", "pip", "uninstall", "--yes", "setuptools"], env=env)
    # The heavy dependencies (torch, spaCy, thinc) come from this environment, added after
    # spacy-bilstm so that pip sees only the fresh venv's copy of it: nothing is downloaded.
    # They come through a view of this environment's site-packages without the package under
    # test: a copy installed here (scripts/quickstart.sh installs en_sample_ner) would
    # otherwise satisfy pip, and the fresh venv would load it.
    venv_site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    outer_view = tmp_path / "outer-site-packages"
    outer_view.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if entry.name.split("-")[0].lower() != result.name.lower():
            (outer_view / entry.name).symlink_to(entry)
    (venv_site / "outer-site-packages.pth").write_text(f"{outer_view}\n")
    _run([python, "-m", "pip", "install", "--no-index", "--find-links", str(result.wheel.parent), "en_sample_ner"], env=env)

    tagged = json.loads(_run([python, "-c", TAG_SCRIPT, "en_sample_ner", json.dumps(SENTENCES)], env=env, cwd=tmp_path).stdout)
    assert Path(tagged["package"]).is_relative_to(venv_site)
    assert Path(tagged["spacy_bilstm"]).is_relative_to(venv_site)
    assert {"bilstm_crf", "bilstm_crf_vectors", "bilstm_crf_tok2vec_listener"} <= set(tagged["configs"])
    assert tagged["tagged"] == _tag(spacy.load(tiny_model), SENTENCES)
