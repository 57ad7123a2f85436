"""Repository archives as GitHub serves them: the API redirects, a download host answers.

`GET /repos/{owner}/{repo}/tarball/{ref}` answers 302 with a `Location` on another host
(codeload.github.com; on loopback, the other loopback name) carrying a short-lived token in the
query, as GitHub's links to private repositories do. That host needs no Authorization header and
records every request it gets, so a test can assert the installation token never reached it.
The archive is a gzip tarball with a pax global header naming the commit and one top folder,
`{owner}-{repo}-{sha7}/`, like `git archive` output on GitHub.
"""

from __future__ import annotations

import gzip
import io
import re
import secrets
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import httpx

if TYPE_CHECKING:
    from tests.fakegithub.api import FakeGitHub
    from tests.fakegithub.state import Repo

LINK_SECONDS = 300
"""GitHub: "For private repositories, these links are temporary and expire after five minutes"."""
DOWNLOAD = re.compile(r"/(?P<owner>[^/]+)/(?P<repo>[^/]+)/legacy\.tar\.gz/(?P<ref>.+)")
LOOPBACK_TWIN = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}


def codeload_url_for(api_url: str) -> str:
    """The download host for an API root: codeload.github.com, or another origin on loopback."""
    parts = urlsplit(api_url)
    host = parts.hostname or ""
    if host == "api.github.com":
        return "https://codeload.github.com"
    twin = LOOPBACK_TWIN.get(host, f"codeload.{host}")
    netloc = f"{twin}:{parts.port}" if parts.port else twin
    return urlunsplit((parts.scheme, netloc, "", "", ""))


def make_tarball(
    top: str,
    files: dict[str, bytes] | dict[str, str],
    commit: str,
    add: Callable[[tarfile.TarFile], None] | None = None,
) -> bytes:
    """A gzip tarball of `files` under `top/`, as GitHub builds it; `add` appends odd members."""
    raw = io.BytesIO()
    with tarfile.open(
        fileobj=raw, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"comment": commit}
    ) as tar:
        folders = {top}
        for path in files:
            parts = path.split("/")[:-1]
            folders.update(f"{top}/{'/'.join(parts[:i])}" for i in range(1, len(parts) + 1))
        for folder in sorted(folders):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o775
            tar.addfile(info)
        for path, text in sorted(files.items()):
            data = text.encode() if isinstance(text, str) else text
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size, info.mode = len(data), 0o664
            tar.addfile(info, io.BytesIO(data))
        if add is not None:
            add(tar)
    return gzip.compress(raw.getvalue(), mtime=0)


@dataclass
class Link:
    repo: str
    sha: str
    expires_at: float


class Codeload:
    """The download host: links handed out by the API, archives served, requests recorded."""

    def __init__(self, fake: FakeGitHub, url: str):
        self.fake, self.url = fake, url.rstrip("/")
        self.links: dict[str, Link] = {}
        self.requests: list[httpx.Request] = []
        """Every request the download host received, headers included."""
        self.served: dict[str, bytes] = {}
        """Commit SHA -> the bytes to serve instead of its real archive (hostile archives)."""

    def serves(self, request: httpx.Request) -> bool:
        root = httpx.URL(self.url)
        return request.url.host == root.host and request.url.port == root.port

    def link(self, repo: Repo, ref: str, sha: str) -> str:
        token = secrets.token_urlsafe(16)
        self.links[token] = Link(repo.full_name, sha, self.fake.now() + LINK_SECONDS)
        return f"{self.url}/{repo.full_name}/legacy.tar.gz/{ref}?token={token}"

    def download(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        match = DOWNLOAD.fullmatch(request.url.path)
        link = self.links.get(request.url.params.get("token", ""))
        if request.method != "GET" or match is None:
            return httpx.Response(404, text="404: Not Found")
        if (
            link is None
            or link.expires_at <= self.fake.now()
            or link.repo != f"{match['owner']}/{match['repo']}"
        ):
            return httpx.Response(404, text="404: Not Found")
        for fault in self.fake.faults:
            if fault.times > 0 and fault.method == "GET" and fault.path.fullmatch(request.url.path):
                fault.times -= 1
                return httpx.Response(fault.status or 504, text=fault.body["message"])
        repo = self.fake.repos[link.repo]
        data = self.served.get(link.sha)
        top = f"{link.repo.replace('/', '-')}-{link.sha[:7]}"
        if data is None:
            data = make_tarball(top, repo.store.files_of[link.sha], link.sha)
        filename = f"{top}.tar.gz"
        return httpx.Response(
            200,
            content=data,
            headers={
                "content-type": "application/x-gzip",
                "content-disposition": f"attachment; filename={filename}",
            },
        )
