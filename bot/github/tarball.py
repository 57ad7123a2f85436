"""A commit's manifests from its tarball: one API call instead of one blob read per file.

`GET /repos/{owner}/{repo}/tarball/{ref}` answers 302 to a short-lived URL on a download host
(codeload); the client follows it, and httpx leaves the installation token behind because the
host differs. The archive is read as a tar stream in memory, never written to disk, and trusted
file by file: a member is kept only when its git blob SHA is the one the tree lists for its path.
Anything the archive does not give (export-ignore, export-subst, a member over a cap, a corrupt
tail) is simply still missing, and the caller reads those blobs one by one as before.
"""

from __future__ import annotations

import asyncio
import io
import logging
import tarfile
import zlib
from dataclasses import dataclass, field

import httpx

from bot.github.client import GitHubError, Installation
from bot.github.diffs import git_blob_sha
from bot.queue.jobs import RetryableError
from rules.core.loader import MAX_FILE_BYTES

log = logging.getLogger(__name__)

TARBALL_THRESHOLD = 50
"""Missing blobs above which one archive is read instead: each blob read costs one request of
the installation's 5,000 an hour (2,000 manifests would take 40% of it), while the archive costs
one request whatever the size. Below it, a few blob reads move fewer bytes than a whole archive."""
MAX_ARCHIVE_BYTES = 200 * 2**20
"""Compressed bytes downloaded at most; a larger repository is read blob by blob."""
MAX_UNPACKED_BYTES = 1 * 2**30
"""Decompressed tar bytes read at most (headers and every member, kept or not): a gzip bomb or
a repository of large binaries stops here and the rest is read blob by blob."""
CHUNK_BYTES = 256 * 1024
TAR_BLOCK = 512


class ArchiveError(Exception):
    """The archive cannot be used (not found, too large, corrupt); the message is one line."""


@dataclass
class Unpacked:
    """Verified manifest texts by blob SHA, and why reading stopped early, if it did."""

    texts: dict[str, bytes] = field(default_factory=dict)
    problem: str | None = None
    mismatched: int = 0
    """Members whose content did not hash to the tree's SHA (export-subst, tampering): not kept."""


async def read(gh: Installation, repo: str, ref: str, wanted: dict[str, str]) -> Unpacked:
    """The texts of `wanted` ({path: blob SHA}) found in the tarball of `ref`, verified.

    Never raises for an unusable archive (it says why in `problem`), only for a rate limit,
    which blob reads would hit as well: the job is retried after the wait GitHub asked for.
    """
    try:
        archive = await download(gh, repo, ref)
    except ArchiveError as exc:
        log.info("tarball of %s not used: %s", ref[:7], exc)
        return Unpacked(problem=str(exc))
    unpacked = await asyncio.to_thread(extract, archive, wanted)
    if unpacked.problem:
        log.info("tarball of %s read in part: %s", ref[:7], unpacked.problem)
    return unpacked


async def download(gh: Installation, repo: str, ref: str) -> bytes:
    """The archive's bytes, at most MAX_ARCHIVE_BYTES; ArchiveError when GitHub cannot serve it."""
    chunks: list[bytes] = []
    total = 0
    try:
        async with gh.stream(f"{repo}/tarball/{ref}") as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_ARCHIVE_BYTES:
                raise ArchiveError(
                    f"the archive is {int(declared):,} bytes, over the "
                    f"{MAX_ARCHIVE_BYTES:,} read at most"
                )
            async for chunk in response.aiter_bytes(CHUNK_BYTES):
                total += len(chunk)
                if total > MAX_ARCHIVE_BYTES:
                    raise ArchiveError(
                        f"the archive is over the {MAX_ARCHIVE_BYTES:,} bytes read at most"
                    )
                chunks.append(chunk)
    except GitHubError as exc:
        raise ArchiveError(str(exc)) from None
    except RetryableError as exc:
        if exc.retry_after is not None:
            raise  # a rate limit: blob reads would be refused too
        raise ArchiveError(str(exc)) from None
    except httpx.HTTPError as exc:
        raise ArchiveError(f"the download broke off: {type(exc).__name__}") from None
    return b"".join(chunks)


def extract(archive: bytes, wanted: dict[str, str]) -> Unpacked:
    """Stream through the tar (gzip or plain) and keep the wanted files whose SHA matches.

    Only regular files under the archive's single top folder count; links, devices, absolute
    paths and `..` are skipped, whatever their name, and nothing is written to disk.
    """
    out = Unpacked()
    unpacked = 0
    top: str | None = None
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r|*") as tar:
            for member in tar:
                unpacked += TAR_BLOCK + member.size
                if unpacked > MAX_UNPACKED_BYTES:
                    out.problem = f"over the {MAX_UNPACKED_BYTES:,} unpacked bytes read at most"
                    break
                if top is None:
                    top = member.name.split("/", 1)[0]
                path = _repository_path(member.name, top)
                if path is None or path not in wanted or not member.isreg():
                    continue
                if member.size > MAX_FILE_BYTES:
                    continue  # the loader refuses it anyway; the tree's size says so
                source = tar.extractfile(member)
                data = source.read(member.size) if source is not None else b""
                if git_blob_sha(data) == wanted[path]:
                    out.texts[wanted[path]] = data
                else:
                    out.mismatched += 1
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        out.problem = f"the archive is corrupt ({type(exc).__name__}: {_first_line(exc)})"
    return out


def _repository_path(name: str, top: str) -> str | None:
    """The path inside the repository of a member named `top/...`; None for anything else."""
    if name.startswith("/") or "\\" in name:
        return None
    head, _, rest = name.partition("/")
    parts = rest.split("/")
    if head != top or not rest or any(p in ("", ".", "..") for p in parts):
        return None
    return rest


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:120] if text else "no detail"
