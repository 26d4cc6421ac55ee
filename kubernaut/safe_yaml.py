"""Reading YAML that someone else wrote: PyYAML's safe loader, without aliases, and bounded.

`yaml.safe_load` refuses Python tags but still expands aliases: a hundred lines of anchors and
aliases (a "billion laughs") become millions of nodes, and deep nesting exhausts the stack. Nothing
Kubernaut reads (manifests, kubeconfigs, a cluster's error messages) needs anchors, so they are
refused outright; depth and the number of values are capped so that the cost of loading follows
the size of the text. Errors are `yaml.YAMLError`s, so callers keep one `except`.
"""

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

MAX_DEPTH = 100
MAX_NODES = 100_000

# libyaml's parser when it is there (PyYAML's wheels have it): several times faster than PyYAML's.
_Parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YAMLLimitError(yaml.YAMLError):
    """The YAML uses something Kubernaut does not accept; the message says what and where."""

    def __init__(self, problem: str, event=None):
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = event.start_mark if event is not None else None


def _where(event) -> str:
    return f" (line {event.start_mark.line + 1})" if event.start_mark else ""


def events(text: str, *, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH) -> list:
    """The parser's events, refusing anchors, aliases, deep nesting and too many values."""
    found, depth, count = [], 0, 0
    for event in yaml.parse(text, Loader=_Parser):
        if isinstance(event, yaml.AliasEvent):
            raise YAMLLimitError(
                f"YAML aliases (*{event.anchor}){_where(event)} are not accepted: write the "
                "repeated part out (a Jinja2 loop or macro can repeat it).",
                event,
            )
        if isinstance(event, yaml.NodeEvent):
            if event.anchor is not None:
                raise YAMLLimitError(
                    f"YAML anchors (&{event.anchor}){_where(event)} are not accepted: write the "
                    "repeated part out (a Jinja2 loop or macro can repeat it).",
                    event,
                )
            count += 1
            if count > max_nodes:
                raise YAMLLimitError(f"The YAML has more than {max_nodes:,} values.")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > max_depth:
                raise YAMLLimitError(
                    f"The YAML nests deeper than {max_depth} levels{_where(event)}.", event
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        found.append(event)
    return found


class _EventLoader(Composer, SafeConstructor, Resolver):
    """PyYAML's composer and safe constructor fed from a list of events already checked."""

    def __init__(self, checked_events: list):
        self._events = checked_events
        self._next = 0
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)

    def check_event(self, *choices) -> bool:
        if self._next >= len(self._events):
            return False
        return not choices or isinstance(self._events[self._next], choices)

    def peek_event(self):
        return self._events[self._next]

    def get_event(self):
        event = self._events[self._next]
        self._next += 1
        return event

    def dispose(self) -> None:
        pass


def construct_all(checked_events: list) -> list:
    """The documents built from `events()`' output (safe types only)."""
    loader = _EventLoader(checked_events)
    documents = []
    while loader.check_data():
        documents.append(loader.get_data())
    return documents


def load_all(text: str, **limits) -> list:
    """Every document of a YAML stream (like `yaml.safe_load_all`), within the limits."""
    return construct_all(events(text, **limits))


def load(text: str, **limits):
    """The one document of a YAML text (like `yaml.safe_load`: None when empty)."""
    documents = load_all(text, **limits)
    if len(documents) > 1:
        raise YAMLLimitError("Expected one YAML document, found several.")
    return documents[0] if documents else None
