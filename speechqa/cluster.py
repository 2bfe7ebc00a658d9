"""Running a batch's calls on a Dask cluster (`speechqa batch --scheduler tcp://HOST:8786`).

The driver keeps the warehouse: workers only score calls and send rows back, so commits, skips
and the lock behave exactly as in a local run. `client.get_executor()` is a standard
concurrent.futures.Executor, so speechqa.batch's submit/collect loop is the same code. Each
worker process loads the model once (speechqa.asr caches it per process) and keeps it.
"""

from __future__ import annotations

from speechqa.errors import SpeechQAError


def dask_executor_factory(address, *, connect_timeout_s: float = 30.0):
    """A factory of executors on the Dask scheduler at `address` (or a distributed.Client or
    LocalCluster). A worker that dies mid-call makes Dask retry the call elsewhere and, after its
    allowed failures, raise KilledWorker: that call gets an error row, the run goes on."""
    try:
        from distributed import Client
    except ImportError:
        raise SpeechQAError(
            "--scheduler needs Dask's distributed scheduler: pip install 'speechqa[dask]'", error_type="bad_config"
        ) from None
    if isinstance(address, Client):
        client = address
    else:
        try:
            client = Client(address, timeout=connect_timeout_s)
        except (OSError, TimeoutError) as exc:
            raise SpeechQAError(
                f"cannot reach the Dask scheduler at {address} ({exc}); start one with `dask scheduler` "
                "and workers with `dask worker {address}`",
                error_type="bad_config",
            ) from None

    def factory(threads: int):
        # pure=False: a call re-run after a worker died must be a new task, not the failed one
        # Dask remembers under the same key.
        return _Executor(client.get_executor(pure=False))

    return factory


class _Executor:
    """Dask's executor, with the shutdown signature of concurrent.futures."""

    def __init__(self, executor):
        self._executor = executor

    def submit(self, fn, *args, **kwargs):
        return self._executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._executor.shutdown(wait=wait and not cancel_futures)
