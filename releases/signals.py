"""Signals other apps (delivery) connect to, so that releases never import them.

- `release_created`: sent after the transaction that registered a release has committed (never
  for one that was rolled back), with `sender=Release` and `release` (the new Release, its
  `service` loaded) and `user` (who registered it).

Receivers run in the request that registered the release: keep them quick (queue the slow part).
"""

from django.dispatch import Signal

release_created = Signal()
