"""The Helm engine renders offline in a child process, and every hostile chart ends in a
failure with a reason, in bounded time, leaving the engine able to render the next chart."""

from __future__ import annotations

import pytest

from render import helm
from render.helm import HelmEngine, Rendered, RenderFailure, failure_from_error

pytestmark = pytest.mark.skipif(not helm.available(), reason="Helm support is not installed")

CHART = {
    "Chart.yaml": b"apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    "values.yaml": b"replicas: 2\n",
}


@pytest.fixture(scope="module")
def engine():
    with HelmEngine(time_limit=3) as running:
        yield running


def render(engine: HelmEngine, template: bytes, **extra: bytes) -> Rendered | RenderFailure:
    files = {**CHART, "templates/t.yaml": template, **extra}
    return engine.render("demo", files, {}, "rel", "apps")


def test_renders_values_release_and_namespace(engine):
    result = engine.render(
        "demo",
        {
            **CHART,
            "templates/t.yaml": b"n: {{ .Values.replicas }}\nr: {{ .Release.Name }}\n"
            b"ns: {{ .Release.Namespace }}\n",
        },
        {"replicas": 5},
        "reviews",
        "bookinfo",
    )
    assert result == Rendered({"demo/templates/t.yaml": "n: 5\nr: reviews\nns: bookinfo\n"})


def test_fail_is_the_chart_stopping_itself_at_the_template_line(engine):
    result = render(engine, b'a: 1\n{{ fail "chaos needs a target" }}\n')
    assert isinstance(result, RenderFailure)
    assert (result.kind, result.template, result.line) == ("stopped", "demo/templates/t.yaml", 2)
    assert "chaos needs a target" in result.message


def test_parse_error_names_the_line(engine):
    result = render(engine, b"a: 1\nb: {{ .Values.x \n")
    assert isinstance(result, RenderFailure) and result.template == "demo/templates/t.yaml"
    assert result.line == 2


def test_endless_range_is_stopped_and_the_engine_recovers(engine):
    result = render(engine, b"{{ range until 1000000000000 }}x{{ end }}")
    assert isinstance(result, RenderFailure)
    assert result.kind in ("crash", "timeout")
    assert isinstance(render(engine, b"ok: 1\n"), Rendered)


def test_output_over_the_cap_is_refused(engine):
    line = b"x" * 99 + b"\n"
    result = render(engine, b"{{ range until 1000000 }}" + line + b"{{ end }}")
    assert isinstance(result, RenderFailure)
    assert result.kind in ("output", "crash", "timeout")
    assert isinstance(render(engine, b"ok: 1\n"), Rendered)


def test_a_slow_render_is_stopped_after_the_time_limit():
    with HelmEngine(time_limit=0.5) as quick:
        slow = b"{{ range until 200000 }}{{ range until 200000 }}{{ end }}{{ end }}"
        result = render(quick, slow)
        assert isinstance(result, RenderFailure) and result.kind == "timeout"
        assert "0.5 s" in result.message
        assert isinstance(render(quick, b"ok: 1\n"), Rendered)


def test_files_outside_the_chart_are_not_readable(engine):
    result = render(engine, b'a: {{ .Files.Get "../../../../etc/hostname" | quote }}\n')
    assert result == Rendered({"demo/templates/t.yaml": 'a: ""\n'})


def test_files_inside_the_chart_are(engine):
    result = render(
        engine, b'a: {{ .Files.Get "files/x.txt" | quote }}\n', **{"files/x.txt": b"hi"}
    )
    assert result == Rendered({"demo/templates/t.yaml": 'a: "hi"\n'})


def test_lookup_and_dns_return_nothing(engine):
    template = (
        b'a: {{ lookup "v1" "Secret" "ns" "x" | toJson | quote }}\n'
        b'b: {{ getHostByName "kubernetes.default" | quote }}\n'
    )
    result = render(engine, template)
    assert result == Rendered({"demo/templates/t.yaml": 'a: "{}"\nb: ""\n'})


def test_the_environment_is_out_of_reach(engine):
    result = render(engine, b'a: {{ env "HOME" }}\n')
    assert isinstance(result, RenderFailure) and "env" in result.message


def test_invalid_chart_yaml_is_a_load_failure(engine):
    result = render(engine, b"a: 1\n", **{"Chart.yaml": b"apiVersion: v2\nname: [\n"})
    assert isinstance(result, RenderFailure) and result.kind == "load"
    assert "Chart.yaml" in result.message


def test_values_that_are_not_a_mapping_are_a_load_failure(engine):
    result = render(engine, b"a: 1\n", **{"values.yaml": b"- one\n- two\n"})
    assert isinstance(result, RenderFailure) and result.kind == "load"
    assert "values.yaml" in result.message


def test_helm_error_text_becomes_a_place_and_a_message():
    failure = failure_from_error(
        "render",
        "execution error at (demo/templates/vs.yaml:12:8): \n  route needs a host\n",
    )
    # `fail` and `required` are Helm's "execution error": the chart asks for values
    assert failure == RenderFailure(
        "stopped", "route needs a host", "demo/templates/vs.yaml", 12, 8
    )
    broken = failure_from_error(
        "render",
        'demo/templates/vs.yaml:3:9 executing "demo/templates/vs.yaml" at <.Values.a.b>: '
        "nil pointer evaluating interface {}.b",
    )
    assert (broken.kind, broken.template, broken.line, broken.column) == (
        "render",
        "demo/templates/vs.yaml",
        3,
        9,
    )
    assert failure_from_error("load", "no Chart.yaml") == RenderFailure("load", "no Chart.yaml")


def test_missing_engine_says_how_to_install(monkeypatch):
    monkeypatch.setattr(helm, "available", lambda: False)
    with HelmEngine() as missing:
        result = render(missing, b"a: 1\n")
    assert result == RenderFailure("engine", helm.INSTALL_HINT)
    assert "pip install 'istio-footgun-bot[helm]'" in result.message
