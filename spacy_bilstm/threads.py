"""How many threads torch may use for this package's work, and the scope in which it does.

torch's intra-op pool starts with one thread per core and busy-waits between operations. On a
machine where other jobs run, those threads compete with them and with each other, and a run
slows down several times over (study 7 in benchmarks/README.md measures it). So every torch call
of this package runs inside `torch_threads()`, which
sets torch's thread count for the call and puts the caller's back afterwards: a host application's
own torch work keeps whatever it set.

The count, in order of precedence:
1. `set_threads(n)` (the CLI's `--threads`), or the environment variable SPACY_BILSTM_THREADS;
2. OMP_NUM_THREADS or MKL_NUM_THREADS, when set: the standard way to choose, left to torch;
3. one thread in a worker process (`--n-process`, Dask workers, a child forked by
   `nlp.pipe(n_process=...)`): the processes are the parallelism, and a forked child's first
   parallel operation on its parent's pool can hang;
4. otherwise the cores this process may run on (`os.sched_getaffinity`) that other processes are
   keeping busy now, at least one: on Linux the threads running or ready to run at this moment
   (/proc/loadavg), less the one asking; elsewhere the 1-minute load average, less this process's
   own threads. It is looked at again every few seconds, so a job started beside a long training
   run is seen. (The 1-minute average lags: right after another job ends it still counts that
   job, and a command started then ran on one thread on an idle machine.)
"""
import contextlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Iterator, Optional, Tuple

import torch

from .errors import ConfigError

ENV_VARIABLE = "SPACY_BILSTM_THREADS"
_STANDARD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
_RECHECK_SECONDS = 5.0

_chosen: Optional[int] = None
_worker_pid: Optional[int] = None
_main_pid = os.getpid()
_cached = (0.0, 0)  # (time of the last look, count)


def set_threads(n_threads: Optional[int]) -> None:
    """Use `n_threads` torch threads for this package's work in this process (None: the default)."""
    global _chosen
    if n_threads is not None and n_threads < 1:
        raise ConfigError(f"The number of threads must be at least 1, got {n_threads}.")
    _chosen = n_threads


def mark_worker_process() -> None:
    """Called in each worker process this package starts: one torch thread there."""
    global _worker_pid
    _worker_pid = os.getpid()


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _from_environment() -> Optional[int]:
    value = os.environ.get(ENV_VARIABLE)
    if value is None or not value.strip():
        return None
    try:
        n_threads = int(value)
    except ValueError:
        n_threads = 0
    if n_threads < 1:
        raise ConfigError(f"{ENV_VARIABLE} must be a whole number of threads, at least 1; it is {value!r}.")
    return n_threads


def _runnable_elsewhere() -> Optional[int]:
    """Threads running or ready to run now, less the one asking (Linux: the fourth field of
    /proc/loadavg, "running/total"), or None where the system does not say."""
    try:
        with open("/proc/loadavg", encoding="ascii") as file:
            running = int(file.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0, running - 1)


def _free_cores(current: int) -> int:
    cores = available_cores()
    busy_elsewhere: Optional[float] = _runnable_elsewhere()
    if busy_elsewhere is None:
        try:
            busy_elsewhere = max(0.0, os.getloadavg()[0] - current)
        except OSError:  # no load average on this system
            return cores
    return max(1, min(cores, int(cores - busy_elsewhere + 0.5)))


def thread_count() -> Optional[int]:
    """The torch thread count for this package's next call, or None to leave torch's as it is."""
    global _cached
    chosen = _chosen if _chosen is not None else _from_environment()
    if chosen is not None:
        return chosen
    if any(os.environ.get(name, "").strip() for name in _STANDARD_VARIABLES):
        return None
    pid = os.getpid()
    if pid == _worker_pid or pid != _main_pid:
        return 1
    now = time.monotonic()
    checked_at, count = _cached
    if count == 0 or now - checked_at > _RECHECK_SECONDS:
        count = _free_cores(torch.get_num_threads())
        _cached = (now, count)
    return count


def inference_workers() -> int:
    """How many buckets of a batch to tag at once, each on one torch thread (see torch_threads)."""
    count = thread_count()
    if count is None:
        for name in _STANDARD_VARIABLES:
            value = os.environ.get(name, "").strip()
            if value.isdigit() and int(value) > 0:
                return int(value)
        return 1
    return count


_pools: Dict[Tuple[int, int], ThreadPoolExecutor] = {}


def worker_pool(n_workers: int) -> ThreadPoolExecutor:
    """A pool of `n_workers` threads for this process (a forked child gets its own: the
    parent's threads do not exist in it)."""
    key = (os.getpid(), n_workers)
    if key not in _pools:
        _pools[key] = ThreadPoolExecutor(n_workers, thread_name_prefix="spacy-bilstm")
    return _pools[key]


@contextlib.contextmanager
def torch_threads(inference: bool = False) -> Iterator[None]:
    """torch's intra-op thread count set to `thread_count()` inside (to one for `inference`),
    the caller's restored after.

    Inference runs on one thread whatever the count: multi-threaded products round small
    batches differently from large ones, and a text's scores must not depend on how it was
    batched or on how many threads its process had. A batch's buckets are tagged in parallel
    instead (inference_workers), and over processes with `--n-process` or Dask."""
    wanted = 1 if inference else thread_count()
    previous = torch.get_num_threads()
    if wanted is None or wanted == previous:
        yield
        return
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
