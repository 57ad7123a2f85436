"""Run the composite steps of `action.yml` the way a GitHub Actions runner does.

What the runner documents and this reproduces: each `run:` step is a file executed with
`bash --noprofile --norc -eo pipefail`, in the workspace, with the default environment
(`GITHUB_*`, `RUNNER_*`), the step's `env:` evaluated, and fresh `GITHUB_OUTPUT` and
`GITHUB_STEP_SUMMARY` files whose contents become the step's outputs and its part of the job
summary. A failing step stops the steps after it. Expressions are evaluated only where the
runner evaluates them (`env:`, `with:`, the outputs), and only the forms the action uses:
`inputs.NAME`, `steps.ID.outputs.NAME`, `github.NAME`; anything else fails the test, so the
action stays simple enough to read. `uses:` steps are played by stand-ins given by the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
UsesStep = Callable[[dict[str, str]], dict[str, str]]
"""A stand-in for a `uses:` step: its evaluated `with:` in, its outputs out."""


def scalar(value: Any) -> str:
    """A YAML value as the runner passes it on: booleans as `true` / `false`."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def load_action(path: Path = ACTION) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def run_scripts(action: dict[str, Any]) -> list[tuple[str, str]]:
    """(step id, script) of every `run:` step."""
    return [(step.get("id", "?"), step["run"]) for step in action["runs"]["steps"] if "run" in step]


def parse_file_commands(text: str) -> dict[str, str]:
    """`name=value` and `name<<DELIMITER ... DELIMITER` entries, as the runner reads them."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            while lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            i += 1
            values[name] = "\n".join(body)
        else:
            name, _, value = line.partition("=")
            values[name] = value
    return values


@dataclass
class StepResult:
    id: str
    code: int
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    summary: str = ""


@dataclass
class Run:
    steps: list[StepResult]
    outputs: dict[str, str]

    @property
    def code(self) -> int:
        """The job's outcome: the exit code of the step that failed, else 0."""
        return next((s.code for s in self.steps if s.code != 0), 0)

    @property
    def summary(self) -> str:
        return "".join(s.summary for s in self.steps)

    def step(self, step_id: str) -> StepResult:
        for s in self.steps:
            if s.id == step_id:
                return s
        failed = self.steps[-1]
        raise AssertionError(
            f"step {step_id} did not run: step {failed.id} ended with {failed.code}\n"
            f"{failed.stdout}\n{failed.stderr}"
        )

    def annotations(self) -> list[str]:
        return [
            line
            for s in self.steps
            for line in s.stdout.splitlines()
            if re.match(r"::(error|warning|notice)[ :]", line)
        ]


@dataclass
class ActionRunner:
    workspace: Path
    action_path: Path
    temp: Path
    env: dict[str, str]
    """The runner's default variables (GITHUB_EVENT_NAME, GITHUB_EVENT_PATH...)."""
    github: dict[str, str]
    uses: dict[str, UsesStep]

    def run(self, inputs: dict[str, str], action: dict[str, Any] | None = None) -> Run:
        action = action or load_action(self.action_path / "action.yml")
        given = {}
        for name, spec in action.get("inputs", {}).items():
            default = scalar(spec.get("default", ""))
            given[name] = inputs[name] if name in inputs else self._evaluate(default, {}, {})
        unknown = set(inputs) - set(given)
        assert not unknown, f"inputs the action does not declare: {unknown}"
        steps: dict[str, dict[str, str]] = {}
        results: list[StepResult] = []
        for index, step in enumerate(action["runs"]["steps"]):
            step_id = step.get("id", f"step{index}")
            if "uses" in step:
                with_ = {
                    k: self._evaluate(scalar(v), given, steps)
                    for k, v in step.get("with", {}).items()
                }
                name = step["uses"].split("@")[0]
                assert name in self.uses, f"no stand-in for uses: {step['uses']}"
                outputs = self.uses[name](with_)
                steps[step_id] = outputs
                results.append(StepResult(step_id, 0, outputs=outputs))
                continue
            result = self._run_script(step_id, step, given, steps)
            steps[step_id] = result.outputs
            results.append(result)
            if result.code != 0:
                break
        outputs = {
            name: self._evaluate(str(spec["value"]), given, steps)
            for name, spec in action.get("outputs", {}).items()
        }
        return Run(results, outputs)

    def _run_script(
        self,
        step_id: str,
        step: dict[str, Any],
        inputs: dict[str, str],
        steps: dict[str, dict[str, str]],
    ) -> StepResult:
        assert step.get("shell") == "bash", f"step {step_id}: composite steps need `shell: bash`"
        script = step["run"]
        assert "${{" not in script, f"step {step_id}: an expression inside `run:`"
        files = self.temp / "_runner_file_commands"
        files.mkdir(parents=True, exist_ok=True)
        output_file = files / f"set_output_{step_id}"
        summary_file = files / f"step_summary_{step_id}"
        script_file = files / f"{step_id}.sh"
        for f in (output_file, summary_file):
            f.write_text("")
        script_file.write_text(script)
        env = {
            **self.env,
            "GITHUB_ACTION_PATH": str(self.action_path),
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(summary_file),
            "GITHUB_ENV": str(files / "set_env"),
            "GITHUB_PATH": str(files / "add_path"),
            "RUNNER_TEMP": str(self.temp),
        }
        for key, value in (step.get("env") or {}).items():
            env[key] = self._evaluate(scalar(value), inputs, steps)
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
            cwd=self.workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        return StepResult(
            step_id,
            done.returncode,
            done.stdout,
            done.stderr,
            parse_file_commands(output_file.read_text()),
            summary_file.read_text(),
        )

    def _evaluate(self, text: str, inputs: dict[str, str], steps: dict[str, dict[str, str]]) -> str:
        def value(match: re.Match[str]) -> str:
            expression = match[1]
            if m := re.fullmatch(r"inputs\.([\w-]+)", expression):
                return inputs[m[1]]
            if m := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression):
                return steps.get(m[1], {}).get(m[2], "")
            if m := re.fullmatch(r"github\.(\w+)", expression):
                return self.github[m[1]]
            raise AssertionError(f"an expression the stand-in runner does not know: {expression}")

        return EXPRESSION.sub(value, text)


def default_env(workspace: Path, temp: Path, tool_cache: Path, **github: str) -> dict[str, str]:
    """The variables every step of a job sees (GitHub's documented defaults that matter here)."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(temp)),
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "RUNNER_TEMP": str(temp),
        "RUNNER_TOOL_CACHE": str(tool_cache),
        "XDG_CACHE_HOME": str(temp / "cache"),
        **github,
    }


def action_checkout(base: Path) -> tuple[Path, Path]:
    """(the action as a workflow downloads it, a tool cache), for pytest's `base` temp dir.

    The copy holds the repository's files and nothing built, made once per session. The tool
    cache keeps the install step's virtualenv beside pytest's numbered temp dirs, so it
    outlives the session, as on a self-hosted runner: the install step keys it by the action's
    code and the interpreter, so a changed action is installed afresh, an unchanged one once.
    """
    target = base / "footgun-action" / "istio-footgun-bot"
    tool_cache = base.parent / "footgun-action-toolcache"
    if not target.exists():
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.split(b"\0")
        for name in filter(None, listed):
            source = ROOT / name.decode()
            if source.is_file():
                (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name.decode())
        tool_cache.mkdir(parents=True, exist_ok=True)
    return target, tool_cache
