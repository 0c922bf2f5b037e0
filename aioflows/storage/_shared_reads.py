"""Shared reads: tasks that read while a read runs share the next one.

Each read of JSONFileStorage stats the state file in a worker thread, and
the trip to the thread costs more CPU than the stat. So each owner (a
storage object) keeps, per event loop, at most one read in flight. Tasks
that ask for a read meanwhile join one round, which starts when the
running read ends and serves all of them with one trip. A round starts
only after every task in it has asked for a read, so each task gets a state
that contains every write that had finished before it asked.

A cancelled task leaves its round without affecting the others. The task
that runs a round waits for its worker thread, which does no lock wait, so
the read delays its cancellation by one stat or parse at most.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar, cast
from weakref import WeakKeyDictionary

import anyio
import anyio.lowlevel
import anyio.to_thread
import attrs

from ._shared_errors import copy_error

__all__ = ["shared_read"]

ResultT = TypeVar("ResultT")


@attrs.define(eq=False)
class _Round(Generic[ResultT]):
    """One call of the read function, shared by the tasks that joined it."""

    started: bool = False
    ended: bool = False
    # False after a round that ended without a result or an error, because
    # its runner was cancelled before the thread started. Its tasks retry.
    succeeded: bool = False
    result: ResultT | None = None
    error: Exception | None = None


@attrs.define(eq=False)
class _Reads(Generic[ResultT]):
    """The read rounds of one owner in one event loop."""

    # The round that tasks join; it has not started yet.
    collecting: _Round[ResultT] | None = None
    busy: bool = False
    # Set and replaced each time a round ends.
    round_ended: anyio.Event = attrs.field(factory=anyio.Event)

    async def read(self, function: Callable[[], ResultT]) -> ResultT:
        while True:
            current = self.collecting
            if current is None:
                current = self.collecting = _Round()

            while not current.ended:
                if not self.busy and not current.started:
                    await self._run(current, function)
                else:
                    await self.round_ended.wait()

            if current.error is not None:
                raise copy_error(current.error)
            if current.succeeded:
                return cast("ResultT", current.result)

    async def _run(
        self, current: _Round[ResultT], function: Callable[[], ResultT]
    ) -> None:
        current.started = True
        self.collecting = None
        self.busy = True
        try:
            current.result = await anyio.to_thread.run_sync(function)
            current.succeeded = True
        except Exception as error:
            current.error = error
        finally:
            current.ended = True
            self.busy = False
            ended, self.round_ended = self.round_ended, anyio.Event()
            ended.set()


# The rounds contain anyio events, which work only in the event loop that made them.
_reads: anyio.lowlevel.RunVar[WeakKeyDictionary[object, _Reads[object]]] = (
    anyio.lowlevel.RunVar("aioflows_storage_shared_reads")
)


async def shared_read(owner: object, function: Callable[[], ResultT]) -> ResultT:
    """Return what ``function`` returns in a worker thread, sharing the call.

    Every task of one owner must pass a function that reads the same thing,
    because all tasks of a round get the result of the function that the
    task running the round passed.

    Raises:
        Exception: A copy of what ``function`` raised, in every task of the
            round.
    """
    rounds = _reads.get(None)
    if rounds is None:
        rounds = WeakKeyDictionary()
        _reads.set(rounds)

    reads = rounds.get(owner)
    if reads is None:
        reads = rounds[owner] = _Reads()
    # The owner's tasks all read the same type of result.
    return await cast("_Reads[ResultT]", reads).read(function)
