import os
import secrets

from django.contrib.auth import get_user_model
from django.db import transaction

from audit import services as audit
from audit.commands import AuditedCommand


class Command(AuditedCommand):
    help = (
        "Make sure a superuser 'admin' exists. Its password comes from KUBERNAUT_ADMIN_PASSWORD, "
        "or is generated once and printed."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        password = os.environ.get("KUBERNAUT_ADMIN_PASSWORD")
        user = User.objects.filter(username="admin").first()
        if user is None:
            generated = not password
            password = password or secrets.token_urlsafe(12)
            with transaction.atomic():
                user = User.objects.create_superuser("admin", email="", password=password)
                audit.record("user.created", user, changes=audit.created_summary(user))
            if generated:
                self.stdout.write(f"Created superuser 'admin' with password: {password}")
            else:
                self.stdout.write(
                    "Created superuser 'admin' (password from KUBERNAUT_ADMIN_PASSWORD)"
                )
        elif password and not user.check_password(password):
            with transaction.atomic():
                user.set_password(password)
                user.save(update_fields=["password"])
                audit.record("user.changed", user, changes={"password": audit.SECRET_PLACEHOLDER})
            self.stdout.write("Set the password of 'admin' from KUBERNAUT_ADMIN_PASSWORD")
