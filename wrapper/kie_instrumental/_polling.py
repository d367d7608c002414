"""How wait() spaces its polls: geometric backoff from about 2 s to a 30 s cap.

Tuned with bench/ (polling): the detection lag stays near a tenth of the task's duration while
using fewer calls than fixed 10 s polling. Never closer than 1/3 s: KIE allows 3 requests/s
per task.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

MIN_INTERVAL = 1 / 3


@attrs.frozen
class PollSchedule:
    first: float = 2.5
    factor: float = 1.18
    cap: float = 30.0

    def intervals(self) -> Iterator[float]:
        interval = max(MIN_INTERVAL, self.first)
        while True:
            yield interval
            interval = max(MIN_INTERVAL, min(self.cap, interval * self.factor))
