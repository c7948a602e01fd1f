"""The Dask engine: the same job on a `dask.distributed` cluster.

The client reads records in order and submits them in partitions; each worker process
loads the pipeline once (cached in `_PIPELINES`) and runs the local engine's
`process_partition` on its partition (`map_partitions` runs any such work; `select` uses
it). Results are taken back in submission order, with a bounded number of partitions in
flight, and written by the same writer as the local engine, so the output is identical
byte for byte.

Pointing it at a real cluster: start a scheduler and workers (`dask scheduler`, `dask
worker tcp://HOST:8786`, or dask-kubernetes / dask-jobqueue) in an environment where
spacy-bilstm is installed and MODEL is loadable (an installed pipeline package, or a path
on a filesystem every worker sees), then pass `--engine dask --scheduler tcp://HOST:8786`.
"""
import uuid
import threading
from collections import deque
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from spacy.language import Language

from ..loading import load_pipeline
from .errors import ProcessError
from .local_engine import PartitionWork, partitions, process_partition, start_worker_process
from .records import Outcome, Record

INSTALL_HINT = 'pip install "spacy-bilstm[dask]"'

# Per worker process: (model, gpu_id) -> loaded pipeline, and how often each was loaded.
_PIPELINES: Dict[Tuple[str, int], Language] = {}
_LOAD_COUNTS: Dict[Tuple[str, int], int] = {}
_LOAD_LOCK = threading.Lock()


def import_distributed():
    try:
        import dask.distributed as distributed
    except ImportError as error:
        raise ProcessError(
            f"--engine dask needs Dask, which is not installed: {INSTALL_HINT}"
        ) from error
    return distributed


def worker_pipeline(model: str, gpu_id: int, n_threads: Optional[int] = None) -> Language:
    key = (model, gpu_id)
    with _LOAD_LOCK:
        if key not in _PIPELINES:
            # The first task of this worker process for this pipeline: the process is a worker.
            start_worker_process(n_threads)
            _PIPELINES[key] = load_pipeline(model, gpu_id)
            _LOAD_COUNTS[key] = _LOAD_COUNTS.get(key, 0) + 1
        return _PIPELINES[key]


def worker_load_counts() -> Dict[str, int]:
    """How many times this worker process loaded each pipeline (for tests and checks)."""
    return {f"{model}|{gpu_id}": count for (model, gpu_id), count in _LOAD_COUNTS.items()}


def _work_on_worker(
    work: PartitionWork, model: str, gpu_id: int, records: List[Record], n_threads: Optional[int], args: Tuple,
) -> Any:
    return work(worker_pipeline(model, gpu_id, n_threads), records, *args)


def _load_on_worker(model: str, gpu_id: int, n_threads: Optional[int]) -> None:
    worker_pipeline(model, gpu_id, n_threads)


class DaskEngine:
    """Owns the client (and the LocalCluster, if it started one)."""

    def __init__(self, *, scheduler: Optional[str] = None, workers: Optional[int] = None):
        distributed = import_distributed()
        self._cluster = None
        if scheduler:
            if workers:
                raise ProcessError("Give either --scheduler (an existing cluster) or --workers (a local one), not both.")
            try:
                self.client = distributed.Client(scheduler, timeout="30s")
            except OSError as error:
                raise ProcessError(f"Cannot connect to the Dask scheduler at {scheduler}: {error}") from error
        else:
            self._cluster = distributed.LocalCluster(
                n_workers=workers or 1,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
            self.client = distributed.Client(self._cluster)
        self.n_workers = max(len(self.client.scheduler_info().get("workers", {})), 1)

    def load_pipeline_on_workers(self, model: str, gpu_id: int, n_threads: Optional[int] = None) -> None:
        """Load the pipeline on every worker now: a model that fails to load is then reported
        before any output file is opened (workers that join later load it in their first task)."""
        self.client.run(_load_on_worker, model, gpu_id, n_threads)

    def process(
        self,
        model: str,
        records: Iterable[Record],
        *,
        gpu_id: int,
        batch_size: int,
        partition_size: int,
        keep_docs: bool,
        n_threads: Optional[int] = None,
        max_in_flight: Optional[int] = None,
    ) -> Iterator[Outcome]:
        """Yield one Outcome per record, in input order."""
        for outcomes in self.map_partitions(
            process_partition, model, records, gpu_id=gpu_id, partition_size=partition_size,
            n_threads=n_threads, args=(batch_size, keep_docs), max_in_flight=max_in_flight, name="process",
        ):
            yield from outcomes

    def map_partitions(
        self,
        work: PartitionWork,
        model: str,
        records: Iterable[Record],
        *,
        gpu_id: int,
        partition_size: int,
        n_threads: Optional[int] = None,
        args: Tuple = (),
        max_in_flight: Optional[int] = None,
        name: str = "work",
    ) -> Iterator[Any]:
        """work(nlp, partition, *args) on the workers for each partition of `records` (nlp: the
        worker's pipeline MODEL), results in input order, with a bounded number in flight."""
        max_in_flight = max_in_flight or 2 * self.n_workers
        run_id = uuid.uuid4().hex
        in_flight: deque = deque()
        for number, partition in enumerate(partitions(records, partition_size)):
            in_flight.append(
                self.client.submit(
                    _work_on_worker, work, model, gpu_id, partition, n_threads, args,
                    pure=False, key=f"spacy-bilstm-{name}-{run_id}-{number}",
                )
            )
            if len(in_flight) >= max_in_flight:
                yield self._collect(in_flight.popleft())
        while in_flight:
            yield self._collect(in_flight.popleft())

    @staticmethod
    def _collect(future: Any) -> Any:
        outcomes = future.result()
        future.release()
        return outcomes

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
