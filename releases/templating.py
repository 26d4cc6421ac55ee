"""Rendering release templates: Jinja2's sandbox with strict undefined variables.

Templates come from CI, so they are untrusted: the sandboxed environment refuses access to
Python internals, and the output size is capped while it is produced.
"""

import contextlib
import sys
from dataclasses import dataclass

import yaml
from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import SandboxedEnvironment

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


class TemplateProblem(Exception):
    """The template cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Manifest:
    """A rendered template: the YAML text and its documents (mappings, empty ones dropped)."""

    text: str
    documents: list[dict]


_environment = SandboxedEnvironment(
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    trim_blocks=False,
)


# Uses of a variable that work without a value: `{{ x | default("a") }}`, `{% if x is defined %}`.
OPTIONAL_FILTERS = {"default", "d"}
OPTIONAL_TESTS = {"defined", "undefined"}


def required_variables(source: str) -> set[str]:
    """Variables the template cannot render without: those it uses other than in an optional way.

    Raises TemplateProblem on a syntax error.
    """
    try:
        tree = _environment.parse(source)
    except TemplateSyntaxError as error:
        raise TemplateProblem(f"Template syntax error on line {error.lineno}: {error.message}")
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


@contextlib.contextmanager
def work_budget(steps: int):
    """Stop template code after `steps` executed lines.

    The sandbox limits what a template may touch and `range()`, but not how long it runs: two
    nested loops over a long attribute would keep a web worker busy for minutes. Jinja2 compiles
    templates to Python code named "<template>"; only those frames are traced, so the rest of
    Kubernaut runs at full speed (a typical manifest executes a few hundred lines).
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


def render(source: str, context: dict[str, str]) -> Manifest:
    """Render the template and parse the YAML it gives. Raises TemplateProblem."""
    try:
        template = _environment.from_string(source)
        pieces, size = [], 0
        with work_budget(MAX_RENDER_STEPS):
            for piece in template.generate(**context):
                size += len(piece)
                if size > MAX_RENDERED_BYTES:
                    raise TemplateProblem(
                        f"The rendered template exceeds {MAX_RENDERED_BYTES // 1024 // 1024} MiB."
                    )
                pieces.append(piece)
    except TemplateSyntaxError as error:
        raise TemplateProblem(f"Template syntax error on line {error.lineno}: {error.message}")
    except SecurityError as error:
        raise TemplateProblem(f"The template did something not allowed: {error}")
    except TemplateError as error:
        raise TemplateProblem(f"The template failed to render: {error}")
    except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as error:
        # Expressions in the template can fail like Python code, e.g. {{ replicas + 1 }}
        # with a string attribute. That is a mistake in the template, not in Kubernaut.
        raise TemplateProblem(f"The template failed to render: {type(error).__name__}: {error}")
    text = "".join(pieces)
    return Manifest(text=text, documents=parse_documents(text))


def parse_documents(text: str) -> list[dict]:
    """The objects in a YAML text, each checked for apiVersion, kind and metadata.name."""
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" on line {mark.line + 1} of the rendered output" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise TemplateProblem(f"The rendered template is not valid YAML{where}: {problem}")
    if not documents:
        raise TemplateProblem("The rendered template contains no Kubernetes objects.")
    for number, document in enumerate(documents, start=1):
        problem = _document_problem(document)
        if problem:
            raise TemplateProblem(f"Document {number} of the rendered template {problem}.")
    return documents


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
    unknown = sorted(required_variables(source) - known)
    if unknown:
        raise TemplateProblem(
            "The template uses variables that are neither attributes of the release nor "
            f"deploy-time variables: {', '.join(unknown)}. Add them as attributes, or use one of: "
            f"{', '.join(DEPLOY_TIME_VARIABLES)}."
        )
    context = {name: f"placeholder-{name}" for name in extra_known}
    context.update(PLACEHOLDERS)
    context.update(attributes)
    context.update(service=service, version=version)
    return render(source, context)
