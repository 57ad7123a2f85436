"""Helpers for the CLI tests: run `footgun` in-process or as a subprocess, and build git repos."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import rules as registry
from bot.cli import main as cli
from rules import fault_injection

FAULTY = fault_injection.FAIL
"""A VirtualService whose route 1 injects aborts: `fault` at line 10, column 5."""
CLEAN = fault_injection.PASS
FAULT_AT = (10, 5)


def only(rule_id: str, extra: str = "", setting: str | None = None) -> str:
    """A config that switches every rule but `rule_id` off (and sets `rule_id` to `setting`), so
    tests of the CLI do not depend on what the other rules think of their manifests."""
    lines = ["rules:"] + [f"  {r}: off" for r in registry.RULES if r != rule_id]
    if setting:
        lines.append(f"  {rule_id}: {setting}")
    return "\n".join(lines if len(lines) > 1 else []) + "\n" + extra


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> dict:
        return json.loads(self.out)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def run_subprocess(*argv: str, cwd: Path, timeout: float = 120, env: dict | None = None) -> Result:
    """`footgun ARGV` as a separate process (a hang or crash cannot take the test run with it)."""
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {}), "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    return Result(out.returncode, out.stdout, out.stderr)


class GitRepo:
    """A throwaway git repository with a helper to commit a set of file changes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.email", "test@example.com")
        self.git("config", "user.name", "test")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str) -> str:
        out = subprocess.run(
            ["git", *args], cwd=self.root, capture_output=True, text=True, check=True
        )
        return out.stdout

    def write(self, files: dict[str, str | None]) -> None:
        for path, text in files.items():
            target = self.root / path
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)

    def commit(self, files: dict[str, str | None], message: str = "change") -> str:
        self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()
