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


def test_runaway_loops_are_stopped(monkeypatch):
    # The work budget is what this tests: on a loaded machine 2M steps can outlast the 1 s wall
    # clock, which is tested on its own.
    monkeypatch.setattr(templating, "RENDER_SECONDS", 10.0)
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


# --- where values land (issue 11) --------------------------------------------------------------

CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n"


def test_values_may_steer_the_template_but_not_add_structure():
    source = CONFIG_MAP + (
        "{% if env == 'production' %}  replicas: '3'\n{% endif %}"
        "{% for host in hosts.split(',') %}  host-{{ loop.index }}: {{ host }}\n{% endfor %}"
    )
    data = templating.render(source, {"env": "production", "hosts": "a,b,c"}).documents[0]["data"]
    assert data == {"replicas": "3", "host-1": "a", "host-2": "b", "host-3": "c"}


def test_macros_may_write_yaml_and_their_values_are_still_checked():
    source = (
        "{% macro labels(tier) %}app: web\ntier: {{ tier }}{% endmacro %}"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  labels:\n"
        "    {{ labels(tier) | indent(4) }}\n"
    )
    manifest = templating.render(source, {"tier": "front"})
    assert manifest.documents[0]["metadata"]["labels"] == {"app": "web", "tier": "front"}
    with pytest.raises(TemplateProblem, match="The value of 'tier', written on line 2"):
        templating.render(source, {"tier": "front\nprivileged: true"})


def test_a_multi_line_value_fills_a_block_scalar_through_indent():
    source = CONFIG_MAP + "  nginx.conf: |\n    {{ config | indent(4) }}\n"
    config = "server {\n  listen 80;\n}\n---\nkind: Namespace"
    data = templating.render(source, {"config": config}).documents[0]["data"]
    assert data["nginx.conf"] == config + "\n"


def test_a_multi_line_value_without_indent_cannot_leave_its_block_scalar():
    source = CONFIG_MAP + "  nginx.conf: |\n    {{ config }}\n"
    with pytest.raises(TemplateProblem, match="'config'.*indent"):
        templating.render(source, {"config": "a\nb: c"})


def test_tojson_of_a_value_is_one_scalar():
    source = CONFIG_MAP + "  value: {{ text | tojson }}\n"
    data = templating.render(source, {"text": 'a"\n- b: c'}).documents[0]["data"]
    assert data["value"] == 'a"\n- b: c'


def test_a_value_in_a_comment_stays_there_unless_it_breaks_the_line():
    source = CONFIG_MAP + "  a: b  # built from {{ commit }}\n"
    assert templating.render(source, {"commit": "abc # : - [x]"}).documents[0]["data"] == {"a": "b"}
    with pytest.raises(TemplateProblem, match="'commit'"):
        templating.render(source, {"commit": "abc\n  evil: true"})


def test_a_value_that_only_looks_like_yaml_syntax_is_refused_where_yaml_would_read_it():
    source = CONFIG_MAP + "  a: {{ value }}\n"
    for value in ("&anchor x", "!!binary aGk=", "[1, 2]", "{a: b}", "| x", "'x' y"):
        with pytest.raises(TemplateProblem, match="'value'"):
            templating.render(source, {"value": value})
    for value in ('"quoted: ok"', "x:y", "a - b", "50%"):
        assert templating.render(source, {"value": value}).documents[0]["data"]["a"]


def test_output_used_as_a_value_elsewhere_is_reported_not_mischecked():
    source = "{% set n %}{{ replicas }}{% endset %}" + CONFIG_MAP + "  n: '{{ n | int + 1 }}'\n"
    with pytest.raises(TemplateProblem, match="could not check where"):
        templating.render(source, {"replicas": "2"})


def test_the_child_process_gets_no_secrets_from_the_environment(monkeypatch):
    from releases import isolation

    limits = {"wall_seconds": 2, "cpu_seconds": 2, "memory_bytes": 64 << 20}
    monkeypatch.setenv("SECRET_KEY", "not-for-templates")
    assert isolation.run("os.getenv", "SECRET_KEY", **limits) is None
    assert isolation.run("os.getenv", "LC_ALL", **limits) == "C.UTF-8"


def test_a_crashed_or_killed_child_is_an_error_and_the_next_job_works():
    from releases import isolation

    limits = {"wall_seconds": 2, "cpu_seconds": 2, "memory_bytes": 64 << 20}
    with pytest.raises(isolation.IsolationError, match="signal SIGSEGV"):
        isolation.run("ctypes.string_at", 0, **limits)
    with pytest.raises(isolation.TimedOut):
        isolation.run("time.sleep", 5, **{**limits, "wall_seconds": 0.2})
    assert isolation.run("os.path.basename", "/a/b", **limits) == "b"


def test_a_memo_reaches_the_next_job_of_its_key_only():
    # The key comes from the parent (a hash of the template); a child can only leave a memo
    # for the job it ran, so nothing it writes reaches a job of another template.
    from releases import isolation

    limits = {"wall_seconds": 2, "cpu_seconds": 2, "memory_bytes": 64 << 20}
    job = "tests.isolation_jobs.remember"
    assert isolation.run(job, "first of a", memo_key="a", **limits) is None
    assert isolation.run(job, "second of a", memo_key="a", **limits) == "first of a"
    assert isolation.run(job, "first of b", memo_key="b", **limits) is None
    # The first memo stays; a failed job leaves none.
    assert isolation.run(job, "third of a", memo_key="a", **limits) == "first of a"
    with pytest.raises(isolation.JobFailed, match="RuntimeError: boom"):
        isolation.run("tests.isolation_jobs.fail_after_leaving", "boom", memo_key="c", **limits)
    assert isolation.run(job, "first of c", memo_key="c", **limits) is None


def test_a_template_compiled_once_renders_and_checks_the_same_from_its_memo():
    source = CONFIG_MAP + "  image: '{{ image }}'\n  replicas: '{{ replicas }}'\n"
    first = templating.render(
        source, {"image": "a:1", "replicas": "2"}, known={"image", "replicas"}
    )
    again = templating.render(
        source, {"image": "b:2", "replicas": "3"}, known={"image", "replicas"}
    )
    assert first.documents[0]["data"] == {"image": "a:1", "replicas": "2"}
    assert again.documents[0]["data"] == {"image": "b:2", "replicas": "3"}
    # The variables it needs come from the memo too.
    for _ in range(2):
        with pytest.raises(templating.MissingVariables) as missing:
            templating.render(source, {"image": "a:1"}, known={"image"})
        assert missing.value.names == ["replicas"]
    # And the check of where values land works from it too.
    unquoted = CONFIG_MAP + "  image: {{ image }}\n"
    for _ in range(2):
        with pytest.raises(TemplateProblem, match="'image'"):
            templating.render(unquoted, {"image": "[1, 2]"})
