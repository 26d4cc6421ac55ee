"""What error reports (DEBUG pages, 500 e-mails) may show: never a password or a key.

Django's own filter hides settings and request.META entries whose *names* look secret. A secret can
also hide in a value whose name says nothing, above all a URL with credentials such as
DATABASE_URL, which `runserver` copies from the environment into every request's META. This filter
also masks the password of any such URL, wherever it appears, and cleanses the local variables of
every traceback frame the same way.
"""

import re

from django.views.debug import SafeExceptionReporterFilter

# user:password@ in any URL-like string.
URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/\s]*):[^@/\s]*@", re.I)


def mask_url_passwords(text: str) -> str:
    return URL_PASSWORD.sub(
        lambda m: f"{m['scheme']}{m['user']}:{SafeExceptionReporterFilter.cleansed_substitute}@",
        text,
    )


class SecretSafeReporterFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|AUTHORIZATION|DATABASE_URL|DSN",
        flags=re.I,
    )

    def cleanse_setting(self, key, value):
        value = super().cleanse_setting(key, value)
        if isinstance(value, str):
            return mask_url_passwords(value)
        return value

    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, self.cleanse_setting(name, value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
