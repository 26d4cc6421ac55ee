"""The API's body parsers: JSON and forms, refusing text that PostgreSQL cannot store.

PostgreSQL's text and jsonb refuse NUL (U+0000), and UTF-8 has no encoding for a lone surrogate
(JSON's "\\ud800"): either one, anywhere in a body, used to reach the database and fail there
with a 500. The parsers look at every string, keys included and at any depth, so every endpoint
and every field (attributes, nested objects, fields added later) is covered at once.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


def unstorable_text(value, path: str = "") -> str | None:
    """Where in a parsed body a string holds NUL or a lone surrogate (`attributes.image`)."""
    if isinstance(value, str):
        return (path or "the top level") if _bad(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and _bad(key):
                return f"the name {key!r}" + (f" in {path}" if path else "")
            found = unstorable_text(item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(value, list):
        for number, item in enumerate(value):
            found = unstorable_text(item, f"{path}[{number}]")
            if found:
                return found
    return None


def _bad(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def refuse_unstorable(data):
    where = unstorable_text(data)
    if where:
        raise ParseError(
            f"The request body has a NUL character (\\u0000) or a lone surrogate "
            f"(\\ud800-\\udfff) at {where}, which Kubernaut cannot store: remove it."
        )
    return data


def _form_fields(data) -> dict:
    """A form's fields as the parser read them: one value, or a list when given again."""
    return {
        name: data.getlist(name)[0] if len(data.getlist(name)) == 1 else data.getlist(name)
        for name in data
    }


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        return refuse_unstorable(super().parse(stream, media_type, parser_context))


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        refuse_unstorable(_form_fields(data))
        return data


class MultiPartParser(parsers.MultiPartParser):
    """Form fields are checked here; file contents are text only once a view decodes them."""

    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        refuse_unstorable(_form_fields(result.data))
        return result
