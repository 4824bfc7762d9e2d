"""The agent's event stream: state changes, hook results and the like, fanned out to
subscribers (``vipguard events``, ``vipguard status --watch``) without ever holding up the
publisher.

``publish`` is synchronous and costs one ``put_nowait`` per subscriber. Every subscriber has a
bounded queue; one that falls behind gets a final ``overflow`` event and is closed, so a stuck
reader can neither block the agent nor make it grow without bound. The last events are kept
in a ring so that a new subscriber can start with the recent past.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from ..io.clock import wall
from .control import Handler, Stream

BACKLOG = 256
QUEUE_LIMIT = 1000

Event = dict[str, Any]


class _End:
    """Queued after a subscription's last event."""


_END = _End()


class Subscription:
    """An async iterator over the events published after it was made (and, if asked for, the
    recent ones before). Treat the events as read-only: every subscriber gets the same dicts."""

    def __init__(self, bus: EventBus, limit: int) -> None:
        self._bus = bus
        self._limit = limit
        # Bounded by hand: at most `limit` events, then one overflow event and the end marker.
        self._queue: asyncio.Queue[Event | _End] = asyncio.Queue()
        self.closed = False
        self.overflowed = False

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        item = await self._queue.get()
        if isinstance(item, _End):
            self._queue.put_nowait(item)  # later calls end too
            raise StopAsyncIteration
        return item

    def close(self) -> None:
        """End the iteration after the events already queued; idempotent."""
        if not self.closed:
            self.closed = True
            self._bus.unsubscribe(self)
            self._queue.put_nowait(_END)

    async def aclose(self) -> None:
        self.close()

    @property
    def pending(self) -> int:
        """Events queued and not yet read."""
        return self._queue.qsize() - (1 if self.closed else 0)

    def _offer(self, event: Event, now: float) -> None:
        if self.closed:
            return
        if self._queue.qsize() < self._limit:
            self._queue.put_nowait(event)
            return
        self.overflowed = True
        self._queue.put_nowait(
            {
                "time": now,
                "event": "overflow",
                "missed_seq": event["seq"],
                "queue_limit": self._limit,
                "hint": "this subscriber fell behind and was closed; subscribe again",
            }
        )
        self.close()


class EventBus:
    """Stamps events with ``seq``, ``time`` and ``event`` and hands them to every subscriber.
    Use it from the event loop's thread only."""

    def __init__(
        self,
        backlog: int = BACKLOG,
        queue_limit: int = QUEUE_LIMIT,
        clock: Callable[[], float] = wall,
    ) -> None:
        self._recent: deque[Event] = deque(maxlen=backlog)
        self._queue_limit = queue_limit
        self._clock = clock
        self._subscribers: set[Subscription] = set()
        self._seq = 0

    def publish(self, kind: str, /, **fields: Any) -> Event:
        self._seq += 1
        now = self._clock()
        stamp = {"seq": self._seq, "time": now, "event": kind}
        event = {**stamp, **fields} | stamp  # the stamp comes first and wins over a field
        self._recent.append(event)
        for subscriber in list(self._subscribers):  # an overflow unsubscribes while we loop
            subscriber._offer(event, now)
        return event

    def subscribe(self, *, backlog: bool = False) -> Subscription:
        """A new subscription; with ``backlog`` it first replays the recent events (no gap and no
        duplicate between those and the live ones)."""
        subscription = Subscription(self, self._queue_limit)
        self._subscribers.add(subscription)
        if backlog:
            for event in list(self._recent)[-self._queue_limit :]:
                subscription._offer(event, self._clock())
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)
        subscription.close()

    def close(self) -> None:
        """End every subscription (the agent is stopping)."""
        for subscription in list(self._subscribers):
            subscription.close()

    @property
    def last_seq(self) -> int:
        """The ``seq`` of the last event published (0 before the first)."""
        return self._seq

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    @property
    def recent(self) -> list[Event]:
        return list(self._recent)


def events_handler(bus: EventBus) -> Handler:
    """The control command ``events``: a stream of the bus's events, after the recent ones if
    the request says ``"backlog": true``."""

    def handle(request: dict[str, Any]) -> Stream:
        subscription = bus.subscribe(backlog=bool(request.get("backlog")))
        return Stream(subscription, last_seq=bus.last_seq)

    return handle
