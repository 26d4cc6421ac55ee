"""releases.templating: the sandboxed, strict Jinja2 rendering of manifest templates."""

import pytest

from releases import templating
from releases.templating import TemplateProblem

OBJECT = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ name }}\n"


def test_render_gives_text_and_documents():
    manifest = templating.render(OBJECT + "---\n" + OBJECT, {"name": "a"})
    assert manifest.text.count("name: a") == 2
    assert [doc["metadata"]["name"] for doc in manifest.documents] == ["a", "a"]


def test_undefined_variable_at_render_time_is_a_problem():
    with pytest.raises(TemplateProblem, match="'name' is undefined"):
        templating.render(OBJECT, {})


def test_required_variables_ignore_loop_variables_and_sets():
    source = "{% set x = 1 %}{% for item in items %}{{ item }}{{ x }}{% endfor %}{{ y }}"
    assert templating.required_variables(source) == {"items", "y"}


def test_variables_with_a_default_or_a_defined_test_are_optional():
    source = (
        "{{ host | default('example.org') }}{% if tls is defined %}{{ tls }}{% endif %}"
        "{{ port | d(80) }}{{ replicas | default(2) }}{{ replicas }}"
    )
    # `tls` is read inside the test's guard too, which still counts: only the guarded forms
    # are free. `replicas` is also used bare, so it stays required.
    assert templating.required_variables(source) == {"replicas", "tls"}


def test_optional_variables_render_with_their_default():
    manifest = templating.check(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ name | default('app') }}\n",
        {},
        service="s",
        version="1",
    )
    assert manifest.documents[0]["metadata"]["name"] == "app"


def test_namespace_attribute_names_count_as_known():
    manifest = templating.check(
        OBJECT.replace("{{ name }}", "{{ service }}-{{ tier }}"),
        {},
        service="svc",
        version="1",
        extra_known={"tier"},
    )
    assert manifest.documents[0]["metadata"]["name"] == "svc-placeholder-tier"


def test_output_size_is_capped(monkeypatch):
    monkeypatch.setattr(templating, "MAX_RENDERED_BYTES", 1000)
    with pytest.raises(TemplateProblem, match="exceeds"):
        templating.render("{% for i in range(10000) %}xxxxxxxx{% endfor %}", {})


def test_yaml_tags_cannot_build_python_objects():
    with pytest.raises(TemplateProblem, match="not valid YAML"):
        templating.render("!!python/object/apply:os.system ['true']\n", {})


def test_runaway_loops_are_stopped():
    source = "{% for a in text %}{% for b in text %}{% endfor %}{% endfor %}"
    with pytest.raises(TemplateProblem, match="too much work"):
        templating.render(source, {"text": "x" * 16000})  # 256 million steps otherwise


def test_the_work_budget_puts_back_the_tracer_it_found():
    import sys

    before = sys.gettrace()
    with pytest.raises(TemplateProblem):
        templating.render(
            "{% for a in t %}{% for b in t %}{% endfor %}{% endfor %}", {"t": "x" * 5000}
        )
    assert sys.gettrace() is before
