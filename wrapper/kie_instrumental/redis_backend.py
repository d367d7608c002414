"""Shared state on Redis for many processes on one KIE key (needs the `[redis]` extra).

- `RedisRateLimit`: pass it as `KieClient(rate_limit=...)` in every process; they all draw from
  the same budgets, one for creates and one for every other request (polls, credits).
- `RedisDedupStore`: the store of a `webhooks.Deduplicator`, so a callback delivered to two
  receiver replicas runs its handler once.
- `RedisJournal`: a `journal.Journal` for many machines (`client.run_job`, `client.resume`).
- `RedisNotifier`: a `notify.Notifier`: a callback received by any process wakes `wait()` in
  any process.

Windows are measured on the Redis server's clock (`TIME` inside the Lua scripts), never on the
clients', whose clocks drift between machines. The core never imports this module.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import redis

from ._clock import SystemClock
from ._errors import RateLimitError
from ._ratelimit import Kind, RateLimiter
from .journal import FINISHED, Job
from .notify import DEFAULT_SAFETY_POLL, LocalNotifier, wakes
from .webhooks import Claim

__all__ = ["RedisDedupStore", "RedisJournal", "RedisNotifier", "RedisRateLimit"]

log = logging.getLogger("kie_instrumental.redis")

# A sliding log of reserved send times (microseconds, server clock) per budget. A request gets
# the earliest time at which the `limit`-th latest reservation is at least `period` old, and not
# before the shared back-off; FIFO in the order requests reach Redis, so no process starves.
# Reservations lie in the future: the caller sleeps until its time, so no window ever holds more
# than `limit`. Refused (nothing reserved) when the time is further than `max_wait` away.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, period, max_wait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
local at = math.max(now, tonumber(redis.call('GET', KEYS[2]) or '0'))
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local edge = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  at = math.max(at, tonumber(edge[2]) + period)
end
if at - now > max_wait then return {0, at - now} end
redis.call('ZADD', KEYS[1], at, redis.call('INCR', KEYS[3]))
redis.call('PEXPIRE', KEYS[1], math.ceil((at - now + period) / 1000) + 1000)
return {1, at - now}
"""

# A 429 moves the shared "not before" forward (never back) for every process.
_BACK_OFF = """
local t = redis.call('TIME')
local until_ = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[1])
if until_ > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], until_, 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1000)
end
return 1
"""

_US = 1_000_000


def _connect(redis_or_url: str | redis.Redis, timeout: float) -> redis.Redis:
    if isinstance(redis_or_url, str):
        # Bounded socket timeouts: an unreachable Redis must never hang a request.
        return redis.Redis.from_url(
            redis_or_url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
    return redis_or_url


class RedisRateLimit:
    """Rate budgets shared through Redis by every process that uses the same `prefix`.

    creates, polls: (requests, seconds) for create requests and for every other request to
    api.kie.ai (record-info, credits). max_wait: the longest a request waits for its permit;
    beyond it the request is refused with `RateLimitError` before anything is sent. margin:
    seconds added to each window, absorbing the jitter between a permit and the send.

    When Redis cannot be reached, each process falls back to a local limiter allowing
    `1/fallback_share` of each budget (assume that many processes share the key), logs one
    warning, and tries Redis again after `retry_redis_after` seconds: never a crash or a hang
    (socket timeouts of `redis_timeout` seconds when built from a URL).
    """

    def __init__(
        self,
        redis_or_url: str | redis.Redis,
        *,
        creates: tuple[int, float] = (20, 10.0),
        polls: tuple[int, float] = (20, 10.0),
        prefix: str = "kie",
        max_wait: float = 300.0,
        margin: float = 0.1,
        fallback_share: int = 4,
        retry_redis_after: float = 5.0,
        redis_timeout: float = 1.0,
    ) -> None:
        for name, (limit, period) in (("creates", creates), ("polls", polls)):
            if limit < 1 or period <= 0:
                raise ValueError(f"{name} must be (requests >= 1, seconds > 0)")
        if fallback_share < 1:
            raise ValueError("fallback_share must be >= 1")
        self._redis = _connect(redis_or_url, redis_timeout)
        self.prefix = prefix
        self.fallback_share = fallback_share
        self.budgets: dict[Kind, tuple[int, float]] = {"create": creates, "poll": polls}
        self.max_wait = max_wait
        self.margin = margin
        self._reserve = self._redis.register_script(_RESERVE)
        self._back_off = self._redis.register_script(_BACK_OFF)
        clock = SystemClock()
        self._fallback = {
            kind: RateLimiter(max(1, limit // fallback_share), period + margin, clock)
            for kind, (limit, period) in self.budgets.items()
        }
        self._retry_redis_after = retry_redis_after
        self._down_since: float | None = None
        self._warned = False
        self._lock = threading.Lock()

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, "ratelimit", *parts))

    # -- the limiter interface the core uses --------------------------------------------------

    def reserve(self, kind: Kind = "poll") -> float:
        """Reserve the next send time in the `kind` budget; return the seconds to wait."""
        if self._redis_is_down():
            return self._fallback[kind].reserve()
        limit, period = self.budgets[kind]
        try:
            granted, wait_us = self._reserve(
                keys=[self._key(kind), self._key("backoff"), self._key("seq")],
                args=[limit, int((period + self.margin) * _US), int(self.max_wait * _US)],
            )
        except redis.RedisError as exc:
            self._went_down(exc)
            return self._fallback[kind].reserve()
        self._came_back()
        if not granted:
            wait = int(wait_us) / _US
            raise RateLimitError(
                f"no {kind} permit within max_wait={self.max_wait:g} s (next in {wait:.1f} s); "
                "nothing was sent",
                retry_after=wait,
            )
        return max(0.0, int(wait_us) / _US)

    def back_off(self, seconds: float) -> None:
        """KIE answered 429: every process sends nothing for `seconds`."""
        for limiter in self._fallback.values():
            limiter.back_off(seconds)
        if self._redis_is_down():
            return
        try:
            self._back_off(keys=[self._key("backoff")], args=[int(seconds * _US)])
        except redis.RedisError as exc:
            self._went_down(exc)

    # -- Redis unreachable: the documented fallback -------------------------------------------

    def _redis_is_down(self) -> bool:
        with self._lock:
            if self._down_since is None:
                return False
            return time.monotonic() - self._down_since < self._retry_redis_after

    def _went_down(self, exc: redis.RedisError) -> None:
        with self._lock:
            self._down_since = time.monotonic()
            if self._warned:
                return
            self._warned = True
        log.warning(
            "Redis unreachable (%s): each process now allows 1/%d of each rate budget; "
            "Redis is tried again every %g s",
            type(exc).__name__,
            self.fallback_share,
            self._retry_redis_after,
        )

    def _came_back(self) -> None:
        with self._lock:
            self._down_since = None

    def __repr__(self) -> str:
        return (
            f"RedisRateLimit(prefix={self.prefix!r}, creates={self.budgets['create']}, "
            f"polls={self.budgets['poll']})"
        )


class RedisDedupStore:
    """A `webhooks.DedupStore` on Redis: several receiver replicas agree on what ran.

    claim: `SET NX` with an expiry of `claim_ttl` seconds (a receiver that dies mid-handler
    frees the event for KIE's redelivery once it expires); complete: the key stays done for
    `done_ttl` seconds; release: frees the key for a redelivery. complete and release act only
    on this store's own claim (a token), never on another replica's.
    """

    _SWAP = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""

    def __init__(
        self,
        redis_or_url: str | redis.Redis,
        *,
        prefix: str = "kie",
        claim_ttl: float = 300.0,
        done_ttl: float = 7 * 24 * 3600.0,
        redis_timeout: float = 1.0,
    ) -> None:
        self._redis = _connect(redis_or_url, redis_timeout)
        self.prefix = prefix
        self.claim_ttl = claim_ttl
        self.done_ttl = done_ttl
        self._swap = self._redis.register_script(self._SWAP)
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def _key(self, key: str) -> str:
        return f"{self.prefix}:dedup:{key}"

    def claim(self, key: str) -> Claim:
        token = "running:" + secrets.token_hex(8)
        taken = self._redis.set(self._key(key), token, nx=True, px=int(self.claim_ttl * 1000))
        if taken:
            with self._lock:
                self._tokens[key] = token
            return "claimed"
        # Taken by someone: done, or running (also when it expired just now: KIE delivers again).
        return "done" if self.is_done(key) else "running"

    def _finish(self, key: str, value: Literal["done", ""]) -> None:
        with self._lock:
            token = self._tokens.pop(key, None)
        if token is not None:
            self._swap(keys=[self._key(key)], args=[token, value, int(self.done_ttl)])

    def complete(self, key: str) -> None:
        self._finish(key, "done")

    def release(self, key: str) -> None:
        self._finish(key, "")

    def is_done(self, key: str) -> bool:
        return self._redis.get(self._key(key)) == b"done"

    def __repr__(self) -> str:
        return f"RedisDedupStore(prefix={self.prefix!r})"


class RedisJournal:
    """A `journal.Journal` in Redis: one hash per job (`<prefix>:job:<key>`) and a sorted set of
    the unfinished ones; each change is one short Lua script, atomic across processes, stamped
    with the server's time."""

    # KEYS: job hash, unfinished set. ARGV: request JSON.
    _BEGIN = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local t = redis.call('TIME')
local now = t[1] .. '.' .. string.format('%06d', t[2])
redis.call('HSET', KEYS[1], 'state', 'pending', 'request', ARGV[1], 'files', '[]',
  'created_at', now, 'updated_at', now)
redis.call('ZADD', KEYS[2], now, ARGV[2])
return 1
"""
    # ARGV: new state, expected states (JSON list; empty: any), finished (0/1), job key,
    # then field/value pairs.
    _TRANSITION = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 0 end
local expected = cjson.decode(ARGV[2])
if #expected > 0 then
  local ok = false
  for _, s in ipairs(expected) do if s == state then ok = true end end
  if not ok then return 0 end
end
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], 'updated_at', t[1] .. '.' .. string.format('%06d', t[2]))
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'state', ARGV[1]) end
for i = 5, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[1], ARGV[i])
  else redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
if ARGV[3] == '1' then redis.call('ZREM', KEYS[2], ARGV[4]) end
return 1
"""

    def __init__(
        self, redis_or_url: str | redis.Redis, *, prefix: str = "kie", redis_timeout: float = 5.0
    ) -> None:
        self._redis = _connect(redis_or_url, redis_timeout)
        self.prefix = prefix
        self._begin = self._redis.register_script(self._BEGIN)
        self._transition = self._redis.register_script(self._TRANSITION)

    def _keys(self, key: str) -> list[str]:
        return [f"{self.prefix}:job:{key}", f"{self.prefix}:jobs:unfinished"]

    def begin(self, key: str, request: Mapping[str, Any]) -> Job:
        self._begin(keys=self._keys(key), args=[json.dumps(dict(request)), key])
        job = self.get(key)
        assert job is not None
        return job

    def _change(self, key: str, expected: Sequence[str], state: str, fields: Any) -> bool:
        pairs: list[str] = []
        for name in ("task_id", "task_status", "files", "error"):
            if name in fields:
                value = fields[name]
                text = json.dumps(list(value)) if name == "files" else value
                pairs += [name, "" if text is None else str(text)]
        finished = "1" if state in FINISHED else "0"
        args = [state, json.dumps(list(expected)), finished, key, *pairs]
        return bool(self._transition(keys=self._keys(key), args=args))

    def transition(self, key: str, expected: Sequence[str], state: str, **fields: Any) -> bool:
        return self._change(key, expected, state, fields)

    def update(self, key: str, **fields: Any) -> None:
        self._change(key, (), "", fields)

    def get(self, key: str) -> Job | None:
        raw: dict[bytes, bytes] = self._redis.hgetall(self._keys(key)[0])  # type: ignore[assignment]
        if not raw:
            return None
        row = {k.decode(): v.decode() for k, v in raw.items()}
        return Job(
            key=key,
            state=row["state"],
            request=json.loads(row["request"]),
            task_id=row.get("task_id"),
            task_status=row.get("task_status"),
            files=tuple(json.loads(row.get("files", "[]"))),
            error=row.get("error"),
            updated_at=float(row["updated_at"]),
        )

    def unfinished(self) -> list[Job]:
        keys: list[bytes] = self._redis.zrange(self._keys("")[1], 0, -1)  # type: ignore[assignment]
        jobs = (self.get(k.decode()) for k in keys)
        return [job for job in jobs if job is not None and not job.finished]

    def __repr__(self) -> str:
        return f"RedisJournal(prefix={self.prefix!r})"


class RedisNotifier(LocalNotifier):
    """A `notify.Notifier` through Redis: a receiver in any process publishes, waiters in any
    process wake. Each process listens on one pub/sub channel (`<prefix>:callbacks`, a
    redis-py listener thread started on the first wait); the last waking callback of each task
    is also kept for `keep` seconds, so a wait that starts after its callback still sees it.
    Redis unreachable: waits fall back to the safety-net polling, with one warning."""

    def __init__(
        self,
        redis_or_url: str | redis.Redis,
        *,
        prefix: str = "kie",
        safety_poll: float = DEFAULT_SAFETY_POLL,
        keep: float = 3600.0,
        redis_timeout: float = 1.0,
    ) -> None:
        super().__init__(safety_poll=safety_poll)
        self._redis = _connect(redis_or_url, redis_timeout)
        self.prefix = prefix
        self.channel = f"{prefix}:callbacks"
        self._keep = keep
        self._listener: Any = None
        self._checked: set[str] = set()
        self._warned = False
        self._listener_lock = threading.Lock()

    def _key(self, task_id: str) -> str:
        return f"{self.prefix}:callback:{task_id}"

    def publish(self, task_id: str, stage: str) -> None:
        if not wakes(stage):
            return
        try:
            with self._redis.pipeline() as pipe:
                pipe.set(self._key(task_id), stage, px=int(self._keep * 1000))
                pipe.publish(self.channel, task_id)
                pipe.execute()
        except redis.RedisError as exc:
            self._unreachable(exc)
            super().publish(task_id, stage)  # this process's waiters at least

    def _deliver(self, message: dict[str, Any]) -> None:
        data = message["data"]
        super().publish(data.decode() if isinstance(data, bytes) else str(data), "complete")

    def _listening(self) -> None:
        with self._listener_lock:
            if self._listener is not None and self._listener.is_alive():
                return
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            pubsub.subscribe(**{self.channel: self._deliver})
            self._listener = pubsub.run_in_thread(
                sleep_time=1.0, daemon=True, exception_handler=self._listener_failed
            )

    def _listener_failed(self, exc: BaseException, pubsub: Any, thread: Any) -> None:
        thread.stop()  # the next wait subscribes again
        if isinstance(exc, redis.RedisError):
            self._unreachable(exc)

    def _arrived_before(self, task_id: str) -> bool:
        """Once per task in this process: was its callback published before we listened?"""
        if task_id in self._checked:
            return False
        if len(self._checked) > 100_000:
            self._checked.clear()
        self._checked.add(task_id)
        return bool(self._redis.exists(self._key(task_id)))

    def _ready(self, task_id: str) -> bool:
        try:
            self._listening()
            return self._arrived_before(task_id)
        except redis.RedisError as exc:
            self._unreachable(exc)
            return False

    def _unreachable(self, exc: redis.RedisError) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "Redis unreachable (%s): callbacks cannot wake waiters; polling every %g s",
                type(exc).__name__,
                self.safety_poll,
            )

    def wait(self, task_id: str, timeout: float) -> bool:
        return self._ready(task_id) or super().wait(task_id, timeout)

    async def await_(self, task_id: str, timeout: float) -> bool:
        return self._ready(task_id) or await super().await_(task_id, timeout)

    def close(self) -> None:
        """Stop listening (the thread is a daemon: closing is optional)."""
        with self._listener_lock:
            if self._listener is not None:
                self._listener.stop()
                self._listener = None
