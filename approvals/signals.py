"""Signals other apps (notifications) connect to, so that approvals never imports them.

- `approval_given`: sent once per approval, inside the transaction that records it (a receiver's
  writes commit with it), with `sender=Approval`, `approval` (the new Approval, its `user`
  loaded), `deployment`, `given` (approvals so far, this one included) and `required` (the
  namespace's required_approvals). A rejection ends the deployment `rejected` and an expiry
  `expired`: both come through deployments.models.deployment_finished.
"""

from django.dispatch import Signal

approval_given = Signal()
