"""Batch claims in Redis (see `_claims`), for processes on several machines: `SET NX` with a
lease; renewing and releasing only what this owner still holds (checked inside Lua)."""

from __future__ import annotations

import threading

import redis

from ._claims import DEFAULT_LEASE, is_stale, new_owner
from .redis_backend import _connect

# KEYS: claim. ARGV: expected holder, new holder, lease ms. Replace only a known holder.
_TAKE_OVER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
# KEYS: claims. ARGV: owner, lease ms.
_RENEW = """
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('PEXPIRE', key, ARGV[2]); n = n + 1 end
end
return n
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisClaims:
    """Claims shared by every process using the same Redis and `prefix`."""

    def __init__(
        self,
        redis_or_url: str | redis.Redis,
        *,
        prefix: str = "kie",
        lease: float = DEFAULT_LEASE,
        redis_timeout: float = 5.0,
    ) -> None:
        self._redis = _connect(redis_or_url, redis_timeout)
        self.prefix = prefix
        self.owner = new_owner()
        self.lease = lease
        self._held: set[str] = set()
        self._lock = threading.Lock()
        self._take_over = self._redis.register_script(_TAKE_OVER)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)

    def _key(self, key: str) -> str:
        return f"{self.prefix}:batch:claim:{key}"

    def claim(self, key: str) -> bool:
        name, ms = self._key(key), int(self.lease * 1000)
        taken = bool(self._redis.set(name, self.owner, nx=True, px=ms))
        if not taken:
            holder = self._redis.get(name)
            text = holder.decode() if isinstance(holder, bytes) else None
            if text == self.owner:
                taken = True
            elif text is not None and is_stale(text):
                taken = bool(self._take_over(keys=[name], args=[text, self.owner, ms]))
        if taken:
            with self._lock:
                self._held.add(key)
        return taken

    def renew(self) -> None:
        with self._lock:
            keys = [self._key(k) for k in self._held]
        if keys:
            self._renew(keys=keys, args=[self.owner, int(self.lease * 1000)])

    def release(self, key: str) -> None:
        with self._lock:
            self._held.discard(key)
        self._release(keys=[self._key(key)], args=[self.owner])

    def __repr__(self) -> str:
        return f"RedisClaims(prefix={self.prefix!r})"
