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

import asyncio
import json
import logging
import secrets
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast

import redis
import redis.asyncio as aioredis

from ._clock import SystemClock
from ._errors import RateLimitError
from ._ratelimit import Kind, RateLimiter, Slot
from .journal import FINISHED, Job
from .notify import DEFAULT_SAFETY_POLL, LocalNotifier, wakes
from .webhooks import Claim

__all__ = ["RedisDedupStore", "RedisJournal", "RedisNotifier", "RedisRateLimit"]

log = logging.getLogger("kie_instrumental.redis")

# A sliding log per budget: one entry per request, scored with the moment its period starts
# (microseconds, server clock). A permit is in flight from the send, scored now + `flight` (the
# request's longest life: an entry of a process that died still expires); the answer sets its
# score to the answer's time, as the local limiter counts (see _ratelimit). Granted when fewer
# than `limit` entries are younger than `period` and the shared back-off has passed; otherwise
# the microseconds to wait before asking again (a caller waiting holds nothing).
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, period, flight = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
local wait = tonumber(redis.call('GET', KEYS[2]) or '0') - now
if wait > 0 then return {0, wait} end
if redis.call('ZCARD', KEYS[1]) < limit then
  local id = redis.call('INCR', KEYS[3])
  redis.call('ZADD', KEYS[1], now + flight, id)
  redis.call('PEXPIRE', KEYS[1], math.ceil((flight + period) / 1000) + 1000)
  return {1, id}
end
local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
-- Every slot in flight: none frees before a whole period from now.
if oldest > now then return {0, period} end
return {0, math.max(oldest + period - now, 1000)}
"""

# The answer arrived (or the request was abandoned): the entry's period starts now.
_FINISHED = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if at and tonumber(at) > now then redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1]) end
return 1
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
# What a failed Redis call may raise: redis-py's errors, and the loop's own timeout.
_DOWN = (redis.RedisError, OSError, TimeoutError)


def _connect(redis_or_url: str | redis.Redis, timeout: float) -> redis.Redis:
    if isinstance(redis_or_url, str):
        # Bounded socket timeouts: an unreachable Redis must never hang a request.
        return redis.Redis.from_url(
            redis_or_url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
    return redis_or_url


class _AsyncRedis:
    """redis.asyncio clients for the async client's path, one per event loop (a connection
    belongs to the loop that opened it): built from the URL, or from the host, port, db and
    credentials of the given sync client, with the same bounded timeouts."""

    _COPIED = ("host", "port", "db", "username", "password", "socket_timeout")

    def __init__(self, redis_or_url: str | redis.Redis, sync: redis.Redis, timeout: float) -> None:
        self._url = redis_or_url if isinstance(redis_or_url, str) else None
        given = sync.connection_pool.connection_kwargs
        self._kwargs: dict[str, Any] = {k: given[k] for k in self._COPIED if k in given}
        if "path" in given:
            self._kwargs["unix_socket_path"] = given["path"]
        self._kwargs.setdefault("socket_timeout", timeout)
        self._kwargs["socket_connect_timeout"] = given.get("socket_connect_timeout") or timeout
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _OnLoop] = (
            weakref.WeakKeyDictionary()
        )

    def on_this_loop(self) -> _OnLoop:
        loop = asyncio.get_running_loop()
        found = self._clients.get(loop)
        if found is None:
            if self._url is not None:
                timeouts = {
                    k: self._kwargs[k] for k in ("socket_timeout", "socket_connect_timeout")
                }
                client = aioredis.Redis.from_url(self._url, **timeouts)
            else:
                client = aioredis.Redis(**self._kwargs)
            found = self._clients[loop] = _OnLoop(client)
        return found


class _OnLoop:
    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._scripts: dict[str, Any] = {}

    async def run(self, source: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self.client.register_script(source)
        return await script(keys=list(keys), args=list(args))


class _RedisSlot(Slot):
    """A slot in the shared budget: its entry in the budget's sorted set."""

    __slots__ = ("key", "member")

    def __init__(self, key: str, member: str) -> None:
        super().__init__()
        self.key = key
        self.member = member


class RedisRateLimit:
    """Rate budgets shared through Redis by every process that uses the same `prefix`.

    creates, polls: (requests, seconds) for create requests and for every other request to
    api.kie.ai (record-info, credits). Counted like the local limiter: a request holds its
    permit from the send, and its `seconds` start when its answer arrives (KIE counts it in
    between), so no window at KIE ever holds more than `requests`, whatever the latency.
    flight_cap: the longest a request may stay in flight; a permit of a process that died
    mid-request is freed after it (set it to at least your longest request timeout).
    max_wait: a wait for a permit longer than this (a long shared back-off) is refused with
    `RateLimitError` before anything is sent.

    The async client awaits Redis through redis.asyncio (never blocking its event loop); the
    sync client calls redis-py. Both run the same Lua scripts.

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
        flight_cap: float = 120.0,
        fallback_share: int = 4,
        retry_redis_after: float = 5.0,
        redis_timeout: float = 1.0,
    ) -> None:
        for name, (limit, period) in (("creates", creates), ("polls", polls)):
            if limit < 1 or period <= 0:
                raise ValueError(f"{name} must be (requests >= 1, seconds > 0)")
        if fallback_share < 1:
            raise ValueError("fallback_share must be >= 1")
        if flight_cap <= 0:
            raise ValueError("flight_cap must be > 0 seconds")
        self._redis = _connect(redis_or_url, redis_timeout)
        self._aio = _AsyncRedis(redis_or_url, self._redis, redis_timeout)
        self.prefix = prefix
        self.fallback_share = fallback_share
        self.budgets: dict[Kind, tuple[int, float]] = {"create": creates, "poll": polls}
        self.max_wait = max_wait
        self.flight_cap = flight_cap
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._finished = self._redis.register_script(_FINISHED)
        self._back_off = self._redis.register_script(_BACK_OFF)
        clock = SystemClock()
        self._fallback = {
            kind: RateLimiter(max(1, limit // fallback_share), period, clock)
            for kind, (limit, period) in self.budgets.items()
        }
        self._retry_redis_after = retry_redis_after
        self._down_since: float | None = None
        self._warned = False
        self._lock = threading.Lock()

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, "ratelimit", *parts))

    # -- the rule, written once for both paths ------------------------------------------------

    def _acquire_call(self, kind: Kind) -> tuple[list[str], list[int]]:
        limit, period = self.budgets[kind]
        keys = [self._key(kind), self._key("backoff"), self._key("seq")]
        return keys, [limit, int(period * _US), int(self.flight_cap * _US)]

    def _granted(self, kind: Kind, answer: Sequence[Any]) -> Slot | float:
        self._came_back()
        granted, value = int(answer[0]), int(answer[1])
        if granted:
            return _RedisSlot(self._key(kind), str(value))
        wait = value / _US
        if wait > self.max_wait:
            raise RateLimitError(
                f"no {kind} permit within max_wait={self.max_wait:g} s (next in {wait:.1f} s); "
                "nothing was sent",
                retry_after=wait,
            )
        return wait

    # -- the limiter interface: the sync client calls these ------------------------------------

    def acquire(self, kind: Kind = "poll") -> Slot | float:
        """A permit to send one request of `kind` now, or the seconds to wait before asking
        again (holding nothing meanwhile)."""
        if self._redis_is_down():
            return self._fallback[kind].acquire(kind)
        keys, args = self._acquire_call(kind)
        try:
            answer = self._acquire(keys=keys, args=args)
        except _DOWN as exc:
            self._went_down(exc)
            return self._fallback[kind].acquire(kind)
        return self._granted(kind, answer)

    def finished(self, slot: Slot) -> None:
        """The request's answer arrived, or it was abandoned: its period starts now."""
        if not isinstance(slot, _RedisSlot):
            self._local_finished(slot)
            return
        try:
            self._finished(keys=[slot.key], args=[slot.member])
        except _DOWN as exc:  # the entry expires after flight_cap
            self._went_down(exc)

    def back_off(self, seconds: float) -> None:
        """KIE answered 429: every process sends nothing for `seconds`."""
        for limiter in self._fallback.values():
            limiter.back_off(seconds)
        if self._redis_is_down():
            return
        try:
            self._back_off(keys=[self._key("backoff")], args=[int(seconds * _US)])
        except _DOWN as exc:
            self._went_down(exc)

    # -- their awaitable twins: the async client awaits these (redis.asyncio) -----------------

    async def acquire_async(self, kind: Kind = "poll") -> Slot | float:
        if self._redis_is_down():
            return self._fallback[kind].acquire(kind)
        keys, args = self._acquire_call(kind)
        try:
            answer = await self._aio.on_this_loop().run(_ACQUIRE, keys, args)
        except _DOWN as exc:
            self._went_down(exc)
            return self._fallback[kind].acquire(kind)
        return self._granted(kind, answer)

    async def finished_async(self, slot: Slot) -> None:
        if not isinstance(slot, _RedisSlot):
            self._local_finished(slot)
            return
        try:
            await self._aio.on_this_loop().run(_FINISHED, [slot.key], [slot.member])
        except _DOWN as exc:
            self._went_down(exc)

    async def back_off_async(self, seconds: float) -> None:
        for limiter in self._fallback.values():
            limiter.back_off(seconds)
        if self._redis_is_down():
            return
        try:
            await self._aio.on_this_loop().run(
                _BACK_OFF, [self._key("backoff")], [int(seconds * _US)]
            )
        except _DOWN as exc:
            self._went_down(exc)

    def _local_finished(self, slot: Slot) -> None:
        # A fallback slot: a slot object is only ever in one of the local windows.
        for limiter in self._fallback.values():
            limiter.finished(slot)

    # -- Redis unreachable: the documented fallback -------------------------------------------

    def _redis_is_down(self) -> bool:
        with self._lock:
            if self._down_since is None:
                return False
            return time.monotonic() - self._down_since < self._retry_redis_after

    def _went_down(self, exc: BaseException) -> None:
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
        self._aio = _AsyncRedis(redis_or_url, self._redis, redis_timeout)
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

    # -- the same, awaited (async receivers: never block the event loop) -----------------------

    async def claim_async(self, key: str) -> Claim:
        token = "running:" + secrets.token_hex(8)
        client = self._aio.on_this_loop().client
        taken = await client.set(self._key(key), token, nx=True, px=int(self.claim_ttl * 1000))
        if taken:
            with self._lock:
                self._tokens[key] = token
            return "claimed"
        return "done" if await client.get(self._key(key)) == b"done" else "running"

    async def _finish_async(self, key: str, value: Literal["done", ""]) -> None:
        with self._lock:
            token = self._tokens.pop(key, None)
        if token is not None:
            args = [token, value, int(self.done_ttl)]
            await self._aio.on_this_loop().run(self._SWAP, [self._key(key)], args)

    async def complete_async(self, key: str) -> None:
        await self._finish_async(key, "done")

    async def release_async(self, key: str) -> None:
        await self._finish_async(key, "")

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
        self._aio = _AsyncRedis(redis_or_url, self._redis, redis_timeout)
        self.prefix = prefix
        self._begin = self._redis.register_script(self._BEGIN)
        self._transition = self._redis.register_script(self._TRANSITION)

    def _keys(self, key: str) -> list[str]:
        return [f"{self.prefix}:job:{key}", f"{self.prefix}:jobs:unfinished"]

    # -- the rule, written once: what each call sends and how its answer reads -----------------

    def _begin_args(self, key: str, request: Mapping[str, Any]) -> list[str]:
        return [json.dumps(dict(request)), key]

    def _change_args(self, key: str, expected: Sequence[str], state: str, fields: Any) -> list[str]:
        pairs: list[str] = []
        for name in ("task_id", "task_status", "files", "error"):
            if name in fields:
                value = fields[name]
                text = json.dumps(list(value)) if name == "files" else value
                pairs += [name, "" if text is None else str(text)]
        finished = "1" if state in FINISHED else "0"
        return [state, json.dumps(list(expected)), finished, key, *pairs]

    def _job(self, key: str, raw: Mapping[bytes, bytes]) -> Job | None:
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

    # -- the Journal interface (redis-py) ------------------------------------------------------

    def begin(self, key: str, request: Mapping[str, Any]) -> Job:
        self._begin(keys=self._keys(key), args=self._begin_args(key, request))
        job = self.get(key)
        assert job is not None
        return job

    def transition(self, key: str, expected: Sequence[str], state: str, **fields: Any) -> bool:
        args = self._change_args(key, expected, state, fields)
        return bool(self._transition(keys=self._keys(key), args=args))

    def update(self, key: str, **fields: Any) -> None:
        self._transition(keys=self._keys(key), args=self._change_args(key, (), "", fields))

    def get(self, key: str) -> Job | None:
        raw: dict[bytes, bytes] = self._redis.hgetall(self._keys(key)[0])  # type: ignore[assignment]
        return self._job(key, raw)

    def unfinished(self) -> list[Job]:
        keys: list[bytes] = self._redis.zrange(self._keys("")[1], 0, -1)  # type: ignore[assignment]
        jobs = (self.get(k.decode()) for k in keys)
        return [job for job in jobs if job is not None and not job.finished]

    # -- its awaitable twins, for the async client (redis.asyncio) ------------------------------

    async def begin_async(self, key: str, request: Mapping[str, Any]) -> Job:
        await self._aio.on_this_loop().run(
            self._BEGIN, self._keys(key), self._begin_args(key, request)
        )
        job = await self.get_async(key)
        assert job is not None
        return job

    async def transition_async(
        self, key: str, expected: Sequence[str], state: str, **fields: Any
    ) -> bool:
        args = self._change_args(key, expected, state, fields)
        return bool(await self._aio.on_this_loop().run(self._TRANSITION, self._keys(key), args))

    async def update_async(self, key: str, **fields: Any) -> None:
        args = self._change_args(key, (), "", fields)
        await self._aio.on_this_loop().run(self._TRANSITION, self._keys(key), args)

    async def get_async(self, key: str) -> Job | None:
        raw = await self._aio.on_this_loop().client.hgetall(self._keys(key)[0])
        return self._job(key, cast(dict[bytes, bytes], raw))

    async def unfinished_async(self) -> list[Job]:
        keys = await self._aio.on_this_loop().client.zrange(self._keys("")[1], 0, -1)
        jobs = [await self.get_async(cast(bytes, k).decode()) for k in keys]
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
        self._aio = _AsyncRedis(redis_or_url, self._redis, redis_timeout)
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
        except _DOWN as exc:
            self._unreachable(exc)
            super().publish(task_id, stage)  # this process's waiters at least

    async def publish_async(self, task_id: str, stage: str) -> None:
        """publish() for an async receiver's handler: awaited (redis.asyncio), so the
        receiver's event loop never waits on Redis."""
        if not wakes(stage):
            return
        try:
            async with self._aio.on_this_loop().client.pipeline() as pipe:
                pipe.set(self._key(task_id), stage, px=int(self._keep * 1000))
                pipe.publish(self.channel, task_id)
                await pipe.execute()
        except _DOWN as exc:
            self._unreachable(exc)
            super().publish(task_id, stage)

    def _deliver(self, message: dict[str, Any]) -> None:
        data = message["data"]
        super().publish(data.decode() if isinstance(data, bytes) else str(data), "complete")

    def _is_listening(self) -> bool:
        return self._listener is not None and bool(self._listener.is_alive())

    def _listening(self) -> None:
        with self._listener_lock:
            if self._is_listening():
                return
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            pubsub.subscribe(**{self.channel: self._deliver})
            self._listener = pubsub.run_in_thread(
                sleep_time=1.0, daemon=True, exception_handler=self._listener_failed
            )

    def _listener_failed(self, exc: BaseException, pubsub: Any, thread: Any) -> None:
        thread.stop()  # the next wait subscribes again
        if isinstance(exc, _DOWN):
            self._unreachable(exc)

    def _unchecked(self, task_ids: Sequence[str]) -> list[str]:
        """The tasks not asked about yet in this process: was a callback published before we
        listened? (Asked once per task; later ones arrive through the channel.)"""
        fresh = [task_id for task_id in task_ids if task_id not in self._checked]
        if len(self._checked) > 100_000:
            self._checked.clear()
        self._checked.update(fresh)
        return fresh

    def _ready(self, task_ids: Sequence[str]) -> str | None:
        try:
            self._listening()
            fresh = self._unchecked(task_ids)
            if not fresh:
                return None
            with self._redis.pipeline(transaction=False) as pipe:
                for task_id in fresh:
                    pipe.exists(self._key(task_id))
                found = pipe.execute()
        except _DOWN as exc:
            self._unreachable(exc)
            return None
        return next((t for t, hit in zip(fresh, found, strict=True) if hit), None)

    async def _ready_async(self, task_ids: Sequence[str]) -> str | None:
        try:
            if not self._is_listening():
                await asyncio.to_thread(self._listening)  # subscribing: off the event loop
            fresh = self._unchecked(task_ids)
            if not fresh:
                return None
            async with self._aio.on_this_loop().client.pipeline(transaction=False) as pipe:
                for task_id in fresh:
                    pipe.exists(self._key(task_id))
                found = await pipe.execute()
        except _DOWN as exc:
            self._unreachable(exc)
            return None
        return next((t for t, hit in zip(fresh, found, strict=True) if hit), None)

    def _unreachable(self, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "Redis unreachable (%s): callbacks cannot wake waiters; polling every %g s",
                type(exc).__name__,
                self.safety_poll,
            )

    def wait_any(self, task_ids: Sequence[str], timeout: float) -> str | None:
        return self._ready(task_ids) or super().wait_any(task_ids, timeout)

    async def await_any(self, task_ids: Sequence[str], timeout: float) -> str | None:
        return await self._ready_async(task_ids) or await super().await_any(task_ids, timeout)

    def close(self) -> None:
        """Stop listening (the thread is a daemon: closing is optional)."""
        with self._listener_lock:
            if self._listener is not None:
                self._listener.stop()
                self._listener = None
