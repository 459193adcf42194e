"""Work moved to one background thread: reading ahead of a consumer, writing behind a producer.

Both exist for the same reason: inflating, reading Arrow IPC, encoding Parquet and writing files
release the GIL, so on a thread they overlap the main thread's decoding instead of adding to it.
Both are bounded (memory stays a few items deep) and both hand a failure to the caller at the
point where it would have happened on the calling thread.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_END = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class ReadAhead(Iterator[T], Generic[T]):
    """Iterates ``produce()`` on a thread, up to ``depth`` items ahead of the consumer.

    The thread starts at once. An error raised by the producer is raised by ``next()`` after the
    items produced before it. ``close()`` stops the producer and waits for it: the producer's own
    clean-up (``finally`` blocks, ``close()`` of a generator) has run when it returns, and it has
    also run before the consumer sees the end of the items.
    """

    def __init__(
        self, produce: Callable[[], Iterable[T]], *, depth: int = 4, name: str = "read-ahead"
    ) -> None:
        self._queue: queue.Queue[object] = queue.Queue(depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._run, args=(produce,), name=name, daemon=True)
        self._thread.start()

    def _run(self, produce: Callable[[], Iterable[T]]) -> None:
        items: Iterable[T] | None = None
        try:
            items = produce()
            for item in items:
                if not self._put(item):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(_Failure(exc))
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
        self._put(_END)

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        item = self._queue.get()
        if item is _END:
            self._done = True
            raise StopIteration
        if isinstance(item, _Failure):
            self._done = True
            raise item.error
        return item  # type: ignore[return-value]

    def close(self) -> None:
        self._done = True
        self._stop.set()
        self._thread.join()


class WriteBehind:
    """Runs calls in order on one thread, at most ``depth`` waiting; the first failure sticks.

    ``submit`` returns as soon as there is room. A call that failed leaves whatever it was
    writing incomplete, so its error is raised again by every later ``submit``, ``wait`` and
    ``close`` instead of letting the caller finish as if nothing was lost.
    """

    def __init__(self, *, depth: int = 4, name: str = "write-behind") -> None:
        self.depth = depth
        self._name = name
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: deque[Future[Any]] = deque()
        self.failure: BaseException | None = None

    @property
    def started(self) -> bool:
        return self._pool is not None

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        # Finished calls are collected first, so a failure surfaces at the next submit.
        while self._inflight and (len(self._inflight) >= self.depth or self._inflight[0].done()):
            self._collect(self._inflight.popleft())
        if self.failure is not None:
            raise self.failure
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix=self._name)
        self._inflight.append(self._pool.submit(fn, *args))

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call ``fn`` here, after what is queued; a failure sticks as for a submitted call."""
        self.wait()
        try:
            return fn(*args)
        except BaseException as exc:
            self.failure = self.failure or exc
            raise

    def _collect(self, future: Future[Any]) -> None:
        try:
            future.result()
        except BaseException as exc:
            self.failure = self.failure or exc

    def wait(self) -> None:
        """Finish every queued call, in order; then raise the first failure, if any."""
        while self._inflight:
            self._collect(self._inflight.popleft())
        if self.failure is not None:
            raise self.failure

    def close(self) -> None:
        """``wait``, and stop the thread even when that raises."""
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
