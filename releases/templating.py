"""Rendering release templates: Jinja2's sandbox with strict undefined variables, out of process.

Templates come from CI and attribute values from whoever deploys, so both are untrusted:

- the sandboxed environment refuses access to Python internals, and its operators and a few
  filters refuse to build huge values (`'a' * 10**9`, `'%*d' % (10**9, 1)`, `center(10**9)`);
- all the work on a template (parsing, rendering, reading the YAML) runs in a child process with
  CPU, memory and wall-clock limits (`releases.isolation`), so no template can hold or kill a web
  worker; the answer comes back within RENDER_SECONDS;
- every value written by a `{{ ... }}` expression must land inside one YAML value (a scalar), so
  an attribute can never add keys, list items, documents or objects (`_check_values_stay_put`);
- YAML anchors and aliases are refused and the number of values is capped (`kubernaut.safe_yaml`).

This module must not import Django: its job function runs in the child, which has none.
"""

import bisect
import contextlib
import contextvars
import hashlib
import json
import re
import sys
from dataclasses import dataclass

import yaml
from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes, pass_context
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.filters import do_center, do_format, do_indent
from jinja2.sandbox import SandboxedEnvironment

from kubernaut import safe_yaml
from releases import isolation

# Variables every deployment provides, whatever the release's attributes.
DEPLOY_TIME_VARIABLES = (
    "service",
    "version",
    "namespace",
    "cluster",
    "release_id",
    "deployment_id",
)

# Values used to check a template at registration, before any deployment exists.
PLACEHOLDERS = {
    "namespace": "placeholder-namespace",
    "cluster": "placeholder-cluster",
    "release_id": "0",
    "deployment_id": "0",
}

MAX_RENDERED_BYTES = 4 * 1024 * 1024
MAX_RENDER_STEPS = 2_000_000
# Limits of the child process that does the work (see releases.isolation).
RENDER_SECONDS = 1.0
RENDER_CPU_SECONDS = 2
RENDER_MEMORY_BYTES = 256 * 1024 * 1024
# The biggest string or list an operator may build, and the biggest width a filter may pad to.
MAX_VALUE_LENGTH = MAX_RENDERED_BYTES
MAX_WIDTH = 10_000


class TemplateProblem(Exception):
    """The template cannot be used; the message says what to fix."""


class MissingVariables(TemplateProblem):
    """The template needs variables that were not given; `names` lists them, sorted."""

    def __init__(self, names: list[str]):
        super().__init__(f"No value for {', '.join(names)}.")
        self.names = names


@dataclass(frozen=True)
class Manifest:
    """A rendered template: the YAML text and its documents (mappings, empty ones dropped)."""

    text: str
    documents: list[dict]


# --- the sandbox -----------------------------------------------------------------------------


def _too_big(what: str) -> SecurityError:
    return SecurityError(
        f"{what} would be too big (the limit is {MAX_VALUE_LENGTH:,} characters or items)"
    )


def _check_width(width, what: str) -> None:
    if isinstance(width, int) and width > MAX_WIDTH:
        raise SecurityError(f"{what} width {width:,} is over the limit of {MAX_WIDTH:,}")


# `%` conversions with a width or precision: `%-10s`, `%.3f`, `%*d`.
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
# str.format / format() specs: the digits after the colon of `{...:>10}`.
_FORMAT_SPEC = re.compile(r"\{[^{}]*:[^{}]*?(\d+)[^{}]*\}")


def _check_format(spec: str) -> None:
    for width, precision in _PERCENT_SPEC.findall(spec):
        for number in (width, precision):
            if number == "*":
                raise SecurityError("'%*' formats (a width taken from the arguments) are refused")
            if number and int(number) > MAX_WIDTH:
                raise SecurityError(f"format width {number} is over the limit of {MAX_WIDTH:,}")
    for number in _FORMAT_SPEC.findall(spec):
        if int(number) > MAX_WIDTH:
            raise SecurityError(f"format width {number} is over the limit of {MAX_WIDTH:,}")


def _length(value) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


def _checked_center(value, width=80):
    _check_width(width, "center")
    return do_center(value, width)


def _checked_indent(value, width=4, first=False, blank=False):
    _check_width(width if isinstance(width, int) else len(width), "indent")
    return do_indent(value, width, first, blank)


def _checked_format(value, *args, **kwargs):
    _check_format(str(value))
    return do_format(value, *args, **kwargs)


WIDTH_METHODS = {"center", "ljust", "rjust", "zfill", "expandtabs"}


class _Environment(SandboxedEnvironment):
    """The sandbox, with operators and calls that refuse to build huge values."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def call_binop(self, context, operator_: str, left, right):
        if operator_ == "*":
            for sequence, times in ((left, right), (right, left)):
                size = _length(sequence)
                if size is not None and isinstance(times, int) and size * times > MAX_VALUE_LENGTH:
                    raise _too_big("the result of '*'")
        elif operator_ == "+":
            sizes = (_length(left), _length(right))
            if None not in sizes and sum(sizes) > MAX_VALUE_LENGTH:
                raise _too_big("the result of '+'")
        elif operator_ == "**" and isinstance(left, int) and isinstance(right, int):
            if abs(left) > 1 and right * abs(left).bit_length() > 64_000:
                raise SecurityError("the result of '**' would be too big a number")
        elif operator_ == "%" and isinstance(left, str):
            _check_format(left)
        return super().call_binop(context, operator_, left, right)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (Jinja2's signature)
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            name = getattr(__obj, "__name__", "")
            if name in WIDTH_METHODS:
                for argument in (*args, *kwargs.values()):
                    _check_width(argument, name)
            elif name == "replace" and len(args) >= 2:
                old, new = str(args[0]), str(args[1])
                grows = (owner.count(old) if old else len(owner) + 1) * len(new)
                if len(owner) + grows > MAX_VALUE_LENGTH:
                    raise _too_big("the result of replace()")
            elif name == "format" and owner:
                _check_format(owner)
        return super().call(__context, __obj, *args, **kwargs)


_environment = _Environment(
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    trim_blocks=False,
)
# lipsum() writes random text (and `lipsum(10**5)` ran for 49 s); random() would make a manifest
# differ from one rendering to the next, so the worker could not check it against its template.
del _environment.globals["lipsum"]
del _environment.filters["random"]
_environment.filters.update(center=_checked_center, indent=_checked_indent, format=_checked_format)


# Uses of a variable that work without a value: `{{ x | default("a") }}`, `{% if x is defined %}`.
OPTIONAL_FILTERS = {"default", "d"}
OPTIONAL_TESTS = {"defined", "undefined"}


def _parse(source: str) -> nodes.Template:
    try:
        return _environment.parse(source)
    except TemplateSyntaxError as error:
        raise TemplateProblem(f"Template syntax error on line {error.lineno}: {error.message}")
    except RecursionError:
        raise TemplateProblem("The template nests too deeply (brackets or blocks) to be read.")


def _required(tree: nodes.Template) -> set[str]:
    optional_uses = {
        id(node.node)
        for node in tree.find_all((nodes.Filter, nodes.Test))
        if isinstance(node.node, nodes.Name)
        and node.name in (OPTIONAL_FILTERS if isinstance(node, nodes.Filter) else OPTIONAL_TESTS)
    }
    needed = {
        name.name
        for name in tree.find_all(nodes.Name)
        if name.ctx == "load" and id(name) not in optional_uses
    }
    return meta.find_undeclared_variables(tree) & needed


def required_variables(source: str) -> set[str]:
    """Variables the template cannot render without: those it uses other than in an optional way.

    Raises TemplateProblem on a syntax error.
    """
    return _required(_parse(source))


@contextlib.contextmanager
def work_budget(steps: int):
    """Stop template code after `steps` executed lines.

    The child process bounds time and memory whatever happens; this budget answers sooner, and
    says why, for the common mistake of loops within loops. Jinja2 compiles templates to Python
    code named "<template>"; only those frames are traced, so the rest runs at full speed (a
    typical manifest executes a few hundred lines).
    """
    done = 0

    def count_lines(frame, event, arg):
        nonlocal done
        done += 1
        if done > steps:
            raise TemplateProblem(
                f"The template does too much work (over {steps:,} steps): look for loops "
                "within loops."
            )
        return count_lines

    def on_call(frame, event, arg):
        return count_lines if frame.f_code.co_filename == "<template>" else None

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        yield
    finally:
        sys.settrace(previous)


# --- where values land ------------------------------------------------------------------------
#
# The template is compiled with every `{{ ... }}` output wrapped in a filter. Rendered normally
# the filter does nothing; rendered a second time it wraps each value in markers (private-use
# characters, with the template line of the expression), so the YAML parser reports where each
# value starts and ends. Each value must lie inside one scalar (or one comment line), and the
# marked text must parse to the same structure, with the same scalars, as the real one.

OPEN, CLOSE, LINE_END = "\ue000", "\ue001", "\ue002"
DIGIT_ZERO = 0xE010
RESERVED = re.compile("[\ue000-\ue01f]")
YAML_LINE_BREAKS = re.compile("[\r\n\x85\u2028\u2029]")
_marking = contextvars.ContextVar("marking", default=False)


@pass_context  # evaluated at render time only: never folded into a constant when compiling
def _mark_value(context, value, line: int):
    if not _marking.get():
        return value
    digits = "".join(chr(DIGIT_ZERO + int(d)) for d in str(line))
    text = str(value)
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        # A quoted scalar (`{{ x | tojson }}`): markers go inside the quotes, so that YAML still
        # reads it as quoted. Were it to end its quotes early, the value would spread over more
        # than one scalar and be refused all the same.
        return f"{text[0]}{OPEN}{digits}{LINE_END}{text[1:-1]}{CLOSE}{text[0]}"
    return f"{OPEN}{digits}{LINE_END}{text}{CLOSE}"


MARK_FILTER = "kubernaut_value"
_environment.filters[MARK_FILTER] = _mark_value


def _is_macro_output(node: nodes.Expr, macros: set[str]) -> bool:
    """`{{ my_macro(...) }}`, `{{ caller() }}`, optionally through filters with constant
    arguments (`| indent(4)`): YAML written by the template itself, whose own values are marked
    inside the macro."""
    while isinstance(node, nodes.Filter):
        if not all(isinstance(arg, nodes.Const) for arg in node.args):
            return False
        node = node.node
    return (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.Name)
        and (node.node.name in macros or node.node.name == "caller")
    )


def _mark_outputs(tree: nodes.Template) -> nodes.Template:
    macros = {macro.name for macro in tree.find_all(nodes.Macro)}
    for output in tree.find_all(nodes.Output):
        output.nodes = [
            child
            if isinstance(child, nodes.TemplateData) or _is_macro_output(child, macros)
            else nodes.Filter(
                child,
                MARK_FILTER,
                [nodes.Const(child.lineno)],
                [],
                None,
                None,
                lineno=child.lineno,
            )  # fmt: skip
            for child in output.nodes
        ]
    return tree


@dataclass
class _Span:
    line: int  # in the template
    start: int  # of the value, in the marked text (OPEN's position)
    end: int  # CLOSE's position in the marked text
    plain_start: int  # the same, in the real text
    plain_end: int
    text: str = ""


def _spans(marked: str) -> list[_Span]:
    spans, stack = [], []
    for removed, found in enumerate(RESERVED.finditer(marked)):
        char, position = found.group(), found.start()
        if char == OPEN:
            digits_end = marked.index(LINE_END, position)
            line = int("".join(str(ord(c) - DIGIT_ZERO) for c in marked[position + 1 : digits_end]))
            stack.append(_Span(line, position, -1, position - removed, -1))
        elif char == CLOSE and stack:
            span = stack.pop()
            span.end, span.plain_end = position, position - removed
            span.text = RESERVED.sub("", marked[span.start : position])
            spans.append(span)
    return sorted(spans, key=lambda span: span.start)


def _normalized(text: str) -> str:
    return " ".join(RESERVED.sub("", text).split())


def _holders(span: _Span, context: dict) -> list[str]:
    """The variables whose value the span holds, most likely first."""
    values = {name: value for name, value in context.items() if isinstance(value, str) and value}
    exact = [name for name, value in values.items() if value == span.text]
    if exact:
        return exact
    inside = sorted(
        (name for name, value in values.items() if value in span.text or
         value.splitlines()[0] in span.text),
        key=lambda name: -len(values[name]),
    )  # fmt: skip
    return inside[:3]


def _misplaced(span: _Span | None, context: dict, why: str) -> TemplateProblem:
    if span is None:
        return TemplateProblem(
            f"A value written by the template does not stay inside one YAML value ({why})."
        )
    names = _holders(span, context)
    if names:
        what = ("The value of " if len(names) == 1 else "The values of ") + ", ".join(
            repr(name) for name in names
        )
    else:
        shown = span.text if len(span.text) <= 60 else span.text[:57] + "..."
        what = f"The value {shown!r}"
    multiline = bool(YAML_LINE_BREAKS.search(span.text))
    return TemplateProblem(
        f"{what}, written on line {span.line} of the template, does not stay inside one YAML "
        f"value ({why}): it would add keys, list items or documents to the manifest. A value "
        "can only fill one string or number."
        + (
            " For a multi-line text (a configuration file, say) the template must put it in a "
            "block scalar: `key: |` and, on the next line, `{{ name | indent(N) }}`."
            if multiline
            else ""
        )
    )


def _span_at(spans: list[_Span], position: int, *, plain: bool = False) -> _Span | None:
    """The innermost value containing the position, else the last one before it."""
    best = None
    for span in spans:
        start, end = (span.plain_start, span.plain_end) if plain else (span.start, span.end)
        if start <= position <= end:
            best = span  # later spans in start order are nested deeper
        elif start > position:
            break
    if best is None:
        before = [s for s in spans if (s.plain_start if plain else s.start) <= position]
        best = before[-1] if before else None
    return best


def _check_values_stay_put(marked: str, plain_events: list, context: dict) -> None:
    spans = _spans(marked)
    if not spans:
        return
    try:
        marked_events = safe_yaml.events(marked)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise _misplaced(
            _span_at(spans, mark.index) if mark else None, context, "it breaks the YAML around it"
        ) from None
    if len(marked_events) != len(plain_events):
        raise _misplaced(_first_difference(spans, marked_events, plain_events), context,
                         "it changes the structure")  # fmt: skip
    for ours, real in zip(marked_events, plain_events, strict=True):
        if type(ours) is not type(real) or (
            isinstance(ours, yaml.ScalarEvent)
            and RESERVED.search(ours.value)
            and _normalized(ours.value) != _normalized(real.value)
        ):
            raise _misplaced(_span_at(spans, ours.start_mark.index), context,
                             "it changes the structure")  # fmt: skip
    scalars = [e for e in marked_events if isinstance(e, yaml.ScalarEvent)]
    starts = [e.start_mark.index for e in scalars]
    node_starts = sorted(e.start_mark.index for e in marked_events if e.start_mark)
    for span in spans:
        at = bisect.bisect_right(starts, span.start) - 1
        if at >= 0 and span.end < scalars[at].end_mark.index:
            continue  # inside one scalar
        if _in_comment(marked, span, node_starts):
            continue
        raise _misplaced(span, context, "it spreads over more than one value")


def _in_comment(marked: str, span: _Span, node_starts: list[int]) -> bool:
    """A value on a comment line, with no line break and nothing YAML reads inside it."""
    if YAML_LINE_BREAKS.search(marked, span.start, span.end):
        return False
    first = bisect.bisect_left(node_starts, span.start)
    if first < len(node_starts) and node_starts[first] <= span.end:
        return False
    line_start = max(marked.rfind(c, 0, span.start) for c in "\r\n") + 1
    before = RESERVED.sub("", marked[line_start : span.start])
    return re.search(r"(^|\s)#", before) is not None


def _first_difference(spans, marked_events, plain_events) -> _Span | None:
    for ours, real in zip(marked_events, plain_events, strict=False):
        if type(ours) is not type(real):
            return _span_at(spans, ours.start_mark.index)
    return spans[-1] if spans else None


# --- the work, in the child process -----------------------------------------------------------


def _generate(template, context: dict, *, marking: bool, max_bytes: int, max_steps: int) -> str:
    pieces, size = [], 0
    token = _marking.set(marking)
    try:
        with work_budget(max_steps):
            for piece in template.generate(**context):
                size += len(piece)
                if size > max_bytes:
                    raise TemplateProblem(
                        f"The rendered template exceeds {MAX_RENDERED_BYTES // 1024 // 1024} MiB."
                    )
                pieces.append(piece)
    finally:
        _marking.reset(token)
    return "".join(pieces)


def _render_problem(error: BaseException) -> TemplateProblem:
    if isinstance(error, TemplateProblem):
        return error
    if isinstance(error, TemplateSyntaxError):
        return TemplateProblem(f"Template syntax error on line {error.lineno}: {error.message}")
    if isinstance(error, SecurityError):
        return TemplateProblem(f"The template did something not allowed: {error}")
    if isinstance(error, TemplateError):
        return TemplateProblem(f"The template failed to render: {error}")
    if isinstance(error, RecursionError):
        return TemplateProblem(
            "The template nests or recurses too deeply (a macro calling itself, or brackets "
            "within brackets)."
        )
    if isinstance(error, MemoryError):
        return TemplateProblem(
            f"The template needs more than {RENDER_MEMORY_BYTES // 1024 // 1024} MiB of memory "
            "to render."
        )
    # Expressions in the template can fail like Python code, e.g. {{ replicas + 1 }} with a
    # string attribute. That is a mistake in the template, not in Kubernaut.
    return TemplateProblem(f"The template failed to render: {type(error).__name__}: {error}")


def _yaml_problem(error: yaml.YAMLError, spans: list[_Span], context: dict) -> TemplateProblem:
    mark = getattr(error, "problem_mark", None)
    where = f" on line {mark.line + 1} of the rendered output" if mark else ""
    problem = getattr(error, "problem", None) or str(error)
    limit = isinstance(error, safe_yaml.YAMLLimitError)
    if mark is not None:
        span = _span_at(spans, mark.index, plain=True)
        if span is not None and span.plain_start <= mark.index <= span.plain_end + 1:
            why = problem if limit else f"it makes the rendered template not valid YAML{where}"
            return _misplaced(span, context, f"{why}: {problem}" if not limit else why)
    if limit:
        return TemplateProblem(f"The rendered template cannot be accepted: {problem}")
    return TemplateProblem(f"The rendered template is not valid YAML{where}: {problem}")


def render_job(job: dict) -> tuple:
    """Parse, render and read a template (in the child process). Returns ("ok", text, documents),
    ("missing", names) or ("problem", sentence)."""
    return render_job_memo(job, None)[0]


def _compile(source: str) -> tuple[str, list[str]]:
    """The template as Python source (with its outputs marked) and the variables it needs."""
    tree = _parse(source)
    required = sorted(_required(tree))
    return _environment.compile(_mark_outputs(tree), raw=True), required


def render_job_memo(job: dict, memo: bytes | None) -> tuple[tuple, bytes | None]:
    """render_job, given what an earlier job of the same template left (isolation's memos): the
    Python that Jinja2 compiled it to and the variables it needs. Parsing and compiling were
    three quarters of a job (bench/template_bench.py); a template registered again and again by
    CI is compiled once per rendering helper. Returns (render_job's answer, the memo)."""
    context = job["context"]
    new_memo = None
    try:
        if memo is None:
            python, required = _compile(job["source"])
            new_memo = json.dumps([python, required]).encode()
        else:
            python, required = json.loads(memo)
        if job["known"] is not None:
            missing = sorted(set(required) - set(job["known"]))
            if missing:
                return ("missing", missing), new_memo
        template = _environment.template_class.from_code(
            _environment,
            compile(python, "<template>", "exec"),
            _environment.make_globals(None),
        )
        steps = job["max_steps"]
        text = _generate(template, context, marking=False, max_bytes=job["max_bytes"],
                         max_steps=steps)  # fmt: skip
        if RESERVED.search(text):
            raise TemplateProblem(
                "The rendered template contains characters U+E000 to U+E01F, which Kubernaut "
                "reserves; remove them from the template and its attributes."
            )
        # The markers make the text longer: a few characters per value.
        marked = _generate(template, context, marking=True, max_bytes=3 * job["max_bytes"],
                           max_steps=steps)  # fmt: skip
        if RESERVED.sub("", marked) != text:
            raise TemplateProblem(
                "Kubernaut could not check where the template's values land: it uses the output "
                "of a {% set %} block, a macro or a call block inside an expression. Write those "
                "values out directly."
            )
        spans = _spans(marked)
        try:
            plain_events = safe_yaml.events(text)
            documents = [doc for doc in safe_yaml.construct_all(plain_events) if doc is not None]
        except yaml.YAMLError as error:
            raise _yaml_problem(error, spans, context) from None
        _check_values_stay_put(marked, plain_events, context)
        _check_documents(documents)
    except BaseException as error:  # noqa: BLE001 (everything here is caused by the template)
        return ("problem", str(_render_problem(error))), new_memo
    return ("ok", text, documents), new_memo


def _check_documents(documents: list) -> None:
    if not documents:
        raise TemplateProblem("The rendered template contains no Kubernetes objects.")
    for number, document in enumerate(documents, start=1):
        problem = _document_problem(document)
        if problem:
            raise TemplateProblem(f"Document {number} of the rendered template {problem}.")


def _document_problem(document) -> str | None:
    if not isinstance(document, dict):
        return f"is a {type(document).__name__}, not a Kubernetes object (a YAML mapping)"
    kind = document.get("kind")
    label = f"(kind {kind}) " if isinstance(kind, str) and kind else ""
    for field in ("apiVersion", "kind"):
        if not isinstance(document.get(field), str) or not document[field]:
            return f"{label}has no {field}"
    metadata = document.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        return f"{label}has no metadata.name"
    if not metadata["name"]:
        return f"{label}has an empty metadata.name"
    return None


def warm_up() -> None:
    """Fill Jinja2's and PyYAML's caches (the lexer, regular expressions) in the helper process,
    so that the children forked from it do not each build them again."""
    render_job(
        {
            "source": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ name | lower }}\n",
            "context": {"name": "warm-up"},
            "known": None,
            "max_bytes": MAX_RENDERED_BYTES,
            "max_steps": MAX_RENDER_STEPS,
        }
    )


# --- the web worker's side --------------------------------------------------------------------


def render(source: str, context: dict[str, str], *, known: set[str] | None = None) -> Manifest:
    """Render the template and read the YAML it gives, in a child process. Raises TemplateProblem.

    With `known`, first checks that the template needs no variable outside it (MissingVariables).
    """
    for name, value in context.items():
        if isinstance(value, str) and RESERVED.search(value):
            raise TemplateProblem(
                f"The value of {name!r} contains a character between U+E000 and U+E01F, which "
                "Kubernaut reserves; remove it."
            )
    job = {
        "source": source,
        "context": context,
        "known": sorted(known) if known is not None else None,
        "max_bytes": MAX_RENDERED_BYTES,
        "max_steps": MAX_RENDER_STEPS,
    }
    try:
        answer = isolation.run(
            "releases.templating.render_job_memo",
            job,
            memo_key=hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest(),
            wall_seconds=RENDER_SECONDS,
            cpu_seconds=RENDER_CPU_SECONDS,
            memory_bytes=RENDER_MEMORY_BYTES,
            preload=("releases.templating",),
        )
    except isolation.TimedOut:
        raise TemplateProblem(
            f"The template takes too long to render (it was stopped after {RENDER_SECONDS:g} s): "
            "look for loops within loops and very large values."
        ) from None
    except isolation.IsolationError as error:
        raise TemplateProblem(f"The template could not be rendered: {error}.") from None
    if answer[0] == "missing":
        raise MissingVariables(answer[1])
    if answer[0] == "problem":
        raise TemplateProblem(answer[1])
    return Manifest(text=answer[1], documents=answer[2])


def parse_documents(text: str) -> list[dict]:
    """The objects in a YAML text (anchors and aliases refused), each checked for apiVersion,
    kind and metadata.name."""
    try:
        documents = [doc for doc in safe_yaml.load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        raise _yaml_problem(error, [], {}) from None
    _check_documents(documents)
    return documents


def check(
    source: str,
    attributes: dict[str, str],
    service: str,
    version: str,
    extra_known: set[str] = frozenset(),
) -> Manifest:
    """Check a template at registration: syntax, known variables, and a trial render.

    `extra_known` holds attribute names that other places (namespaces) will provide at deploy time;
    they are rendered with a placeholder value.
    """
    known = set(attributes) | set(DEPLOY_TIME_VARIABLES) | set(extra_known)
    context = {name: f"placeholder-{name}" for name in extra_known}
    context.update(PLACEHOLDERS)
    context.update(attributes)
    context.update(service=service, version=version)
    try:
        return render(source, context, known=known)
    except MissingVariables as missing:
        raise TemplateProblem(
            "The template uses variables that are neither attributes of the release nor "
            f"deploy-time variables: {', '.join(missing.names)}. Add them as attributes, or use "
            f"one of: {', '.join(DEPLOY_TIME_VARIABLES)}."
        ) from None
