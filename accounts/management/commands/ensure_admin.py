import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
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
            User.objects.create_superuser("admin", email="", password=password)
            if generated:
                self.stdout.write(f"Created superuser 'admin' with password: {password}")
            else:
                self.stdout.write(
                    "Created superuser 'admin' (password from KUBERNAUT_ADMIN_PASSWORD)"
                )
        elif password and not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
            self.stdout.write("Set the password of 'admin' from KUBERNAUT_ADMIN_PASSWORD")
