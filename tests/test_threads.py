"""The package's torch thread policy: scoped to its own calls, never a side effect on the host."""
import os
import subprocess
import sys

import pytest
import torch

from spacy_bilstm import threads


@pytest.fixture(autouse=True)
def no_explicit_choice(monkeypatch):
    monkeypatch.setattr(threads, "_chosen", None)
    for name in (threads.ENV_VARIABLE, "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)


def test_the_callers_thread_count_is_restored_after_the_packages_call():
    before = torch.get_num_threads()
    threads.set_threads(1 if before > 1 else 2)
    with threads.torch_threads():
        assert torch.get_num_threads() == (1 if before > 1 else 2)
    assert torch.get_num_threads() == before


def test_inference_runs_on_one_torch_thread_whatever_the_count():
    threads.set_threads(2)
    with threads.torch_threads(inference=True):
        assert torch.get_num_threads() == 1


def test_an_explicit_count_wins_over_the_environment_and_the_environment_over_the_default(monkeypatch):
    monkeypatch.setenv(threads.ENV_VARIABLE, "3")
    assert threads.thread_count() == 3
    threads.set_threads(2)
    assert threads.thread_count() == 2
    threads.set_threads(None)
    monkeypatch.delenv(threads.ENV_VARIABLE)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.thread_count() is None  # torch's own count, as OMP_NUM_THREADS set it
    assert threads.inference_workers() == 1


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_thread_count_in_the_environment_says_what_to_set(monkeypatch, value):
    monkeypatch.setenv(threads.ENV_VARIABLE, value)
    with pytest.raises(ValueError, match=threads.ENV_VARIABLE):
        threads.thread_count()


def test_the_default_leaves_out_the_threads_other_processes_are_running_now(monkeypatch, tmp_path):
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))  # a lagging average is not read
    for running, free in (("1/180", 4), ("3/180", 2), ("8/180", 1)):  # the one asking counts itself
        monkeypatch.setattr(threads, "_runnable_elsewhere", lambda running=running: int(running.split("/")[0]) - 1)
        assert threads._free_cores(current=2) == free


def test_where_the_system_has_no_running_count_the_load_average_is_read(monkeypatch):
    monkeypatch.setattr(threads, "_runnable_elsewhere", lambda: None)
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    monkeypatch.setattr(os, "getloadavg", lambda: (3.0, 3.0, 3.0))
    assert threads._free_cores(current=1) == 2  # 2 cores busy elsewhere, 1 of the load is ours
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    assert threads._free_cores(current=2) == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert threads._free_cores(current=4) == 4


def test_a_worker_process_uses_one_thread(monkeypatch):
    monkeypatch.setattr(threads, "_worker_pid", os.getpid())
    assert threads.thread_count() == 1


IMPORT_SCRIPT = """
import os, torch
torch.set_num_threads(2)
import spacy, spacy_bilstm
spacy.blank("en").add_pipe("bilstm_ner")
assert torch.get_num_threads() == 2, torch.get_num_threads()
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write, str(torch.get_num_threads()).encode()); os._exit(0)
os.waitpid(pid, 0)
print(os.read(read, 10).decode())
"""


def test_importing_the_package_changes_nothing_in_the_host_process_or_its_forked_children():
    result = subprocess.run([sys.executable, "-c", IMPORT_SCRIPT], capture_output=True, text=True, timeout=120,
                            env={k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS",)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"
