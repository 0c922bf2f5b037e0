"""Group commit: changes that tasks submit during a write are written together next.

Each owner (a storage object) has one queue per event loop. The first task
that submits a change while no write runs becomes the leader: it takes every
queued change and runs the blocking write function in a worker thread. Tasks
that submit meanwhile wait in the queue. When the write ends, every task
whose change it contained gets the same outcome, and the first waiting task
leads the next write with everything queued by then. Changes keep their
submission order within and across writes.

Cancellation: a task cancelled before its write has called ``take`` leaves
nothing behind. Its change is dropped, and when it was the leader, the write
stops waiting for the file lock and its other changes go back to the head of
the queue. Once ``take`` has run, the write finishes, and a task cancelled
then waits for it before it raises the cancellation.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from typing import Generic, TypeVar, cast
from weakref import WeakKeyDictionary

import anyio
import anyio.lowlevel
import anyio.to_thread
import attrs

from .._errors import StorageError
from ._shared_errors import copy_error

__all__ = ["WriteBatch", "submit_change"]

ChangeT = TypeVar("ChangeT")

#: A blocking function that writes a batch of changes. It calls its argument,
#: ``take``, once it can no longer fail to start writing (when it holds the
#: file lock). ``take`` returns the changes to apply, in submission order,
#: and from then on no task can withdraw its change.
WriteBatch = Callable[[Callable[[], list[ChangeT]]], None]


class _Status(enum.Enum):
    QUEUED = "queued"
    TAKEN = "taken"
    WITHDRAWN = "withdrawn"
    FINISHED = "finished"


@attrs.define(eq=False)
class _Entry(Generic[ChangeT]):
    """One submitted change and the state of the task that waits for it."""

    change: ChangeT
    status: _Status = _Status.QUEUED
    # True once this task must lead the next write.
    lead: bool = False
    batch: _Batch[ChangeT] | None = None
    error: BaseException | None = None
    wakeup: anyio.Event = attrs.field(factory=anyio.Event)

    @property
    def finished(self) -> bool:
        """Whether the write that contained this change has ended."""
        return self.status is _Status.FINISHED


@attrs.define(eq=False)
class _Batch(Generic[ChangeT]):
    """The changes of one write, shared with the worker thread that writes them."""

    entries: list[_Entry[ChangeT]]
    _mutex: threading.Lock = attrs.field(factory=threading.Lock, init=False)
    committed: bool = attrs.field(default=False, init=False)
    finished: bool = attrs.field(default=False, init=False)
    error: Exception | None = attrs.field(default=None, init=False)

    def take(self) -> list[ChangeT]:
        """Return the changes that were not withdrawn, and forbid withdrawing."""
        with self._mutex:
            self.committed = True
            return [
                entry.change
                for entry in self.entries
                if entry.status is not _Status.WITHDRAWN
            ]

    def withdraw(self, entry: _Entry[ChangeT]) -> bool:
        """Drop ``entry`` from the write, unless the write has taken it already."""
        with self._mutex:
            if self.committed:
                return False
            entry.status = _Status.WITHDRAWN
            return True

    def run(self, write: WriteBatch[ChangeT]) -> None:
        """Run ``write`` in the worker thread and record its outcome."""
        try:
            write(self.take)
        except Exception as error:
            self.error = error
        # A cancellation raised while waiting for the lock propagates, which
        # leaves the batch neither finished nor committed.
        self.finished = True


@attrs.define(eq=False)
class _Queue(Generic[ChangeT]):
    """The pending changes of one owner in one event loop."""

    pending: list[_Entry[ChangeT]] = attrs.field(factory=list)
    # True while a task runs a write or has been chosen to run the next one.
    leading: bool = False

    async def submit(self, change: ChangeT, write: WriteBatch[ChangeT]) -> None:
        entry = _Entry(change)
        self.pending.append(entry)
        if not self.leading:
            self.leading = True
            entry.lead = True

        while not entry.finished:
            if entry.lead:
                await self._lead(entry, write)
            else:
                await self._wait(entry)

        # A leader cancelled after its write took the lock gets here like a
        # task that waited, and raises the cancellation now that the write ended.
        await anyio.lowlevel.checkpoint_if_cancelled()
        if entry.error is not None:
            raise copy_error(entry.error)

    async def _lead(self, leader: _Entry[ChangeT], write: WriteBatch[ChangeT]) -> None:
        batch = _Batch(self.pending)
        self.pending = []
        for entry in batch.entries:
            entry.status = _Status.TAKEN
            entry.batch = batch
            entry.lead = False

        try:
            await anyio.to_thread.run_sync(batch.run, write)
        finally:
            self._settle(batch, leader)

    async def _wait(self, entry: _Entry[ChangeT]) -> None:
        entry.wakeup = anyio.Event()
        try:
            await entry.wakeup.wait()
        except BaseException:
            await self._leave(entry)
            raise

    async def _leave(self, entry: _Entry[ChangeT]) -> None:
        """Withdraw the change of a task that stops waiting, or wait for its write."""
        if entry.status is _Status.QUEUED:
            self.pending.remove(entry)
            entry.status = _Status.WITHDRAWN
            if entry.lead:
                self._hand_off()
            return

        batch = entry.batch
        if entry.status is not _Status.TAKEN or batch is None:
            return  # The write has finished, or the change was withdrawn.
        if batch.withdraw(entry):
            return

        # The write holds the file lock and ends soon, so a task cancelled now
        # returns only once the write has stored its change or failed.
        with anyio.CancelScope(shield=True):
            while not entry.finished:
                entry.wakeup = anyio.Event()
                await entry.wakeup.wait()

    def _settle(self, batch: _Batch[ChangeT], leader: _Entry[ChangeT]) -> None:
        if batch.finished or batch.committed:
            error: BaseException | None = batch.error
            if not batch.finished:
                error = StorageError(
                    "The write of the state file stopped after taking the file "
                    "lock, so the file may or may not contain these changes. "
                    "Read the values back before relying on them."
                )
            self._finish(batch, error)
        else:
            self._requeue(batch, leader)
        self._hand_off()

    def _finish(self, batch: _Batch[ChangeT], error: BaseException | None) -> None:
        for entry in batch.entries:
            if entry.status is _Status.WITHDRAWN:
                continue
            entry.status = _Status.FINISHED
            entry.error = error
            entry.wakeup.set()

    def _requeue(self, batch: _Batch[ChangeT], leader: _Entry[ChangeT]) -> None:
        # The leader was cancelled while its write waited for the lock, so
        # the leader's change is dropped and the others are written next.
        leader.status = _Status.WITHDRAWN
        requeued = [entry for entry in batch.entries if entry.status is _Status.TAKEN]
        for entry in requeued:
            entry.status = _Status.QUEUED
            entry.batch = None
        self.pending[:0] = requeued

    def _hand_off(self) -> None:
        if not self.pending:
            self.leading = False
            return

        successor = self.pending[0]
        successor.lead = True
        successor.wakeup.set()


# A queue contains anyio events, which work only in the event loop that made them.
_queues: anyio.lowlevel.RunVar[WeakKeyDictionary[object, _Queue[object]]] = (
    anyio.lowlevel.RunVar("aioflows_storage_write_queues")
)


async def submit_change(
    owner: object, change: ChangeT, write: WriteBatch[ChangeT]
) -> None:
    """Queue ``change`` for ``owner`` and return once a write has stored it.

    Every task of one owner must pass the same ``write``, because the task
    that leads a write runs its own ``write`` for every queued change.

    Raises:
        Exception: A copy of what ``write`` raised, in every task whose change
            was in that write.
    """
    queues = _queues.get(None)
    if queues is None:
        queues = WeakKeyDictionary()
        _queues.set(queues)

    queue = queues.get(owner)
    if queue is None:
        queue = queues[owner] = _Queue()
    # The owner's tasks all submit the same type of change.
    await cast("_Queue[ChangeT]", queue).submit(change, write)
