"""benchmarks/results holds one current result file per study, readable on any machine: no
file records the absolute path of the machine it was made on."""
import re
import subprocess

from ..helpers import REPO

# An absolute path as a result file would hold it: quoted in JSON, or after a space or `=` in a
# recorded command line.
ABSOLUTE_PATH = re.compile(r"""(?:^|["'\s=(])/(?:work|tmp|home|root|Users|mnt|var|opt|srv|data)/""")


def tracked_result_files():
    listed = subprocess.run(["git", "ls-files", "benchmarks/results"], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout.split()
    return [REPO / name for name in listed if not name.endswith(".png")]


def test_no_tracked_result_file_holds_an_absolute_path():
    found = []
    for path in tracked_result_files():
        for number, line in enumerate(path.read_text(encoding="utf8").splitlines(), 1):
            if ABSOLUTE_PATH.search(line):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:120]}")
    assert not found, "absolute paths in benchmarks/results:\n" + "\n".join(found)


def test_the_absolute_path_pattern_finds_what_it_is_for():
    assert ABSOLUTE_PATH.search('"config": "/work/main/configs/bilstm_crf.cfg"')
    assert ABSOLUTE_PATH.search("python -m benchmarks.cost --work /tmp/work")
    assert not ABSOLUTE_PATH.search('"path": "benchmarks/work/corpora/wnut17/train.spacy"')


def test_each_study_keeps_one_result_file_not_a_folder_of_runs():
    folders = sorted({path.parent.relative_to(REPO) for path in tracked_result_files()})
    assert [str(folder) for folder in folders] == ["benchmarks/results"]
