"""Bearer tokens: random, shown once, stored only as a keyed hash.

A token is ``lw_`` + 32 random bytes (URL-safe base64). The database keeps
HMAC-SHA256(secret_key, token): a leaked table does not yield usable tokens, and hashing is
cheap enough to check on every request. Looking a hash up costs one indexed query; a short
in-process cache (a few seconds) keeps ingest at thousands of requests per second from paying
it each time, so a revoked token stops working within `CACHE_SECONDS`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from typing import Any

from service.domain import ROLES, Principal

TOKEN_PREFIX = "lw_"
CACHE_SECONDS = 5.0


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(secret: str, token: str) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def issue_token(
    store: Any,
    secret: str,
    *,
    role: str,
    name: str,
    actor: str = "cli",
    token: str | None = None,
) -> str:
    """Create (or re-role) user `name` and give it a new token (or `token`); returns it."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = token or new_token()
    with store.transaction() as tx:
        user = store.repo.get_user(tx, name)
        if user is None:
            user_id = store.repo.create_user(tx, name, role)
            store.repo.audit(
                tx,
                actor=actor,
                entity="user",
                entity_key=name,
                action="create",
                after={"name": name, "role": role},
            )
        else:
            user_id = int(user["id"])
            if user["role"] != role or user["disabled_at"] is not None:
                store.repo.update_user(tx, user_id, {"role": role, "disabled_at": None})
                store.repo.audit(
                    tx,
                    actor=actor,
                    entity="user",
                    entity_key=name,
                    action="update",
                    before={"role": user["role"]},
                    after={"role": role},
                )
        token_id = store.repo.create_token(
            tx, user_id, name, hash_token(secret, token), token[: len(TOKEN_PREFIX) + 6]
        )
        store.repo.audit(
            tx,
            actor=actor,
            entity="token",
            entity_key=str(token_id),
            action="create",
            after={"user": name, "role": role},
        )
    return token


class Authenticator:
    """Token → principal, with a short cache."""

    def __init__(self, store: Any, secret: str) -> None:
        self.store = store
        self.secret = secret
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def cached(self, token: str) -> tuple[bool, Principal | None]:
        """(known, principal) from the cache alone: no database, safe on the event loop."""
        hit = self._cache.get(hash_token(self.secret, token))
        if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
            return True, hit[1]
        return False, None

    def __call__(self, token: str) -> Principal | None:
        digest = hash_token(self.secret, token)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        with self.store.transaction(readonly=True) as tx:
            principal = self.store.repo.principal_for_hash(tx, digest)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, principal)
        return principal

    def forget(self) -> None:
        """Drop cached answers (after a revocation or a role change in this process)."""
        with self._lock:
            self._cache.clear()


def ensure_bootstrap_tokens(store: Any, settings: Any) -> list[str]:
    """Give the deployment's pre-shared tokens (settings ``bootstrap_*_token``) their users,
    once: a token already known is left alone. Returns the users that got one."""
    secret = settings.secret_key.get_secret_value()
    wanted = (
        ("admin", "admin", settings.bootstrap_admin_token),
        ("collector", "operator", settings.bootstrap_collector_token),
    )
    issued = []
    for name, role, value in wanted:
        if value is None:
            continue
        token = value.get_secret_value()
        if len(token) < 24:
            raise ValueError(f"bootstrap token for {name!r} must be at least 24 characters")
        with store.transaction(readonly=True) as tx:
            known = store.repo.principal_for_hash(tx, hash_token(secret, token))
        if known is None:
            issue_token(store, secret, role=role, name=name, actor="bootstrap", token=token)
            issued.append(name)
    return issued
