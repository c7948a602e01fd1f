"""Installable pipeline packages through spaCy's own `spacy package`, with a requirement on a
compatible spacy-bilstm range and a wheel built offline (no isolated build environment)."""
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Union

import srsly
from spacy import util
from spacy.cli.package import package as spacy_package

from .about import __version__
from .errors import SpacyBilstmError

PathLike = Union[str, Path]
DISTRIBUTION = "spacy-bilstm"


class PackagingError(SpacyBilstmError):
    """A model directory, name, version or output a user got wrong: what, where, what to do."""


@dataclass
class PackageResult:
    package_dir: Path
    name: str
    version: str
    requirements: List[str]
    wheel: Optional[Path]
    sdist: Optional[Path]


def own_requirement() -> str:
    """`spacy-bilstm>=X.Y.0,<X.(Y+1).0`: pipelines trained with one minor version load with
    any release of it, the same promise spaCy makes for its own packages."""
    return f"{DISTRIBUTION}{util.get_minor_version_range(__version__)}"


def _check_inputs(model_path: Path, name: str, version: str) -> dict:
    if not model_path.is_dir():
        raise PackagingError(f"{model_path}: no such pipeline directory. Pass e.g. training/model-best.")
    for required in ("config.cfg", "meta.json"):
        if not (model_path / required).is_file():
            raise PackagingError(
                f"{model_path}: not a spaCy pipeline directory (no {required}). Pass the model-best or "
                f"model-last directory that `spacy-bilstm train` wrote."
            )
    if not name.isidentifier() or not name.isascii():
        raise PackagingError(
            f"--name {name!r}: a package name must be a Python identifier (ASCII letters, digits, _; not "
            f"starting with a digit), because spacy.load imports it. E.g. --name sample_ner."
        )
    parts = version.split(".")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise PackagingError(f"--version {version!r}: expected MAJOR.MINOR.PATCH, e.g. 0.1.0.")
    try:
        return srsly.read_json(model_path / "meta.json")
    except ValueError as error:
        raise PackagingError(f"{model_path / 'meta.json'}: not valid JSON ({error}). Restore it from training.") from None


def package(
    model_path: PathLike,
    output_dir: PathLike,
    *,
    name: str,
    version: str,
    wheel: bool = True,
    sdist: bool = False,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> PackageResult:
    """Create `<output_dir>/<lang>_<name>-<version>/` with spaCy's packaging and build a wheel
    (and an sdist on request) in its `dist/`. `spacy.load("<lang>_<name>")` loads the
    installed package; its requirements include `own_requirement()`."""
    model_path = Path(model_path)
    output_dir = Path(output_dir)
    meta = _check_inputs(model_path, name, version)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=output_dir).close()
    except OSError as error:
        raise PackagingError(f"{output_dir}: cannot write to the output directory ({error.strerror or error}).") from None
    lang = meta.get("lang", "en")
    package_name = name if name.startswith(f"{lang}_") else f"{lang}_{name}"
    package_dir = output_dir / f"{package_name}-{version}"
    if package_dir.exists():
        if not force:
            raise PackagingError(f"{package_dir} already exists. Remove it, or pass --force to replace it.")
        shutil.rmtree(package_dir)

    # spaCy adds requirements for the third-party code the config names; giving ours explicitly
    # fixes its range whatever the install looks like (an editable install maps no modules).
    requirements = [req for req in meta.get("requirements", []) if util.split_requirement(req)[0] != DISTRIBUTION]
    meta["requirements"] = [own_requirement(), *requirements]
    with tempfile.TemporaryDirectory() as scratch:
        meta_path = Path(scratch) / "meta.json"
        srsly.write_json(meta_path, meta)
        try:
            spacy_package(
                model_path, output_dir, meta_path=meta_path, name=name, version=version,
                create_sdist=False, create_wheel=False, require_parent=True, force=force, silent=True,
            )
        except SystemExit:
            raise PackagingError(
                f"{model_path}: spaCy's `spacy package` step refused this pipeline. Run `python -m spacy "
                f"package {model_path} {output_dir} --build none` to see its reason."
            ) from None
    final_meta = srsly.read_json(package_dir / "meta.json")
    log(f"Created {package_dir} (requirements: {', '.join(final_meta['requirements'])})")
    wheel_path = _build(package_dir, "wheel", log) if wheel else None
    sdist_path = _build(package_dir, "sdist", log) if sdist else None
    return PackageResult(package_dir, package_name, version, final_meta["requirements"], wheel_path, sdist_path)


def _build(package_dir: Path, kind: str, log: Callable[[str], None]) -> Path:
    """Build with the setuptools already installed here: `python -m build` and `spacy package`'s
    own build step make an isolated environment that downloads setuptools, which fails offline."""
    dist = (package_dir / "dist").resolve()  # the build runs inside package_dir
    dist.mkdir(exist_ok=True)
    before = set(dist.iterdir())
    if kind == "wheel":
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                   "--wheel-dir", str(dist), "."]
    else:
        command = [sys.executable, "setup.py", "-q", "sdist", "--dist-dir", str(dist)]
    done = subprocess.run(command, cwd=package_dir, capture_output=True, text=True)
    built = sorted(set(dist.iterdir()) - before)
    if done.returncode != 0 or not built:
        raise PackagingError(
            f"{package_dir}: building the {kind} failed ({' '.join(command[1:4])} ...):\n"
            f"{(done.stderr or done.stdout)[-2000:]}\nThe build uses the setuptools installed in this environment "
            f"(no download): check that `python -m pip wheel` works here."
        )
    log(f"Built {built[-1]}")
    return built[-1]
