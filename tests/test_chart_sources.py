"""The CLI reads every file of a Helm chart folder (templates, helpers, files for .Files.Get),
from the working tree and from git, and only YAML elsewhere."""

from __future__ import annotations

import subprocess

from bot.cli import sources

TREE = {
    "charts/reviews/Chart.yaml": "apiVersion: v2\nname: reviews\nversion: 1.0.0\n",
    "charts/reviews/templates/_helpers.tpl": '{{ define "x" }}{{ end }}\n',
    "charts/reviews/templates/NOTES.txt": "hello\n",
    "charts/reviews/files/dashboard.json": "{}\n",
    "mesh/vs.yaml": "kind: VirtualService\n",
    "docs/notes.txt": "not a chart\n",
    "scripts/helpers.tpl": "outside any chart\n",
}
CHART_AND_YAML = sorted(p for p in TREE if p.startswith("charts/") or p.endswith(".yaml"))


def write(root):
    for path, text in TREE.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


def test_working_tree_reads_chart_files_and_yaml(tmp_path, monkeypatch):
    write(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert sorted(f.path for f in sources.from_paths(["."])) == CHART_AND_YAML


def test_git_revision_lists_chart_files_and_yaml(tmp_path):
    write(tmp_path)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    listed = sources.from_git("HEAD", cwd=str(tmp_path))
    assert sorted(f.path for f in listed) == CHART_AND_YAML
    sources.read_blobs(listed, cwd=str(tmp_path))
    helpers = next(f for f in listed if f.path.endswith("_helpers.tpl"))
    assert helpers.data == TREE["charts/reviews/templates/_helpers.tpl"].encode()
