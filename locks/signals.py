"""Signals other apps (notifications) connect to, so that locks never import them.

Both are sent after the transaction that made the change has committed (never for a change that
was rolled back), with `sender=Lock` and:

- `lock_created`: `lock` (the new Lock; `lock.namespace`, `lock.service`, `lock.created_by` and
  `lock.sentence()` are loaded), `user` (who locked).
- `lock_deleted`: `lock` (as it is now: `deleted_at` and `deleted_by` set), `user` (who unlocked).

Receivers run in the request that changed the lock: keep them quick (queue the slow part).
"""

from django.dispatch import Signal

lock_created = Signal()
lock_deleted = Signal()
