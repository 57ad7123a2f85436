"""A cold cache reads the head commit's tarball once instead of one blob per manifest.

The archive is trusted file by file (a member is kept only when it hashes to the tree's blob
SHA), hostile members are skipped, and an archive that cannot be used falls back to blob reads.
"""

import io
import re
import tarfile

import pytest
import respx

from bot.github import changeset, tarball
from bot.github.changeset import BlobCache, PullRequest, fetch, fetch_revision
from bot.queue.jobs import RetryableError
from bot.review import job as review
from tests.fakegithub.archive import make_tarball
from tests.fakegithub.git import blob_sha
from tests.fakegithub.world import job_context, make_world
from tests.fakegithub.world import virtual_service as vs

SHA = re.compile(r"[0-9a-f]{40}")
TOP = "acme-mesh-1234567"


def manifests(count):
    return {f"apps/team{i % 40}/vs{i}.yaml": vs(f"svc{i}") for i in range(count)}


def faulty(numbers):
    return {f"apps/team{i % 40}/vs{i}.yaml": vs(f"svc{i}", fault=True) for i in numbers}


def change_set(world, pull, cache):
    return world.run(
        fetch(
            world.client,
            PullRequest.from_json(
                {
                    "number": pull.number,
                    "head": {"sha": pull.head_sha, "repo": pull.head_repo.json()},
                    "base": {"sha": pull.base_sha, "repo": pull.repo.json()},
                }
            ),
            cache,
        )
    )


def blob_reads(world):
    return world.fake.requests("GET", "/git/blobs/")


def assert_head_texts_are_exact(change, cache, files):
    """Every head manifest was read, and its cached text is the commit's, byte for byte."""
    assert sorted(f.path for f in change.head) == sorted(files)
    for source in change.head:
        assert cache.texts[source.key] == files[source.path].encode(), source.path


@pytest.fixture
def cold(monkeypatch):
    """A new process: nothing cached by blob SHA."""
    monkeypatch.setattr(changeset, "CACHE", BlobCache())


# -- a review -----------------------------------------------------------------------------------


def test_a_cold_review_in_a_2000_manifest_repository_makes_a_handful_of_calls(world, cold):
    pull = world.pull(manifests(2000), faulty(range(10)))
    world.fake.log.clear()
    world.run(review.run(job_context(world, pull)))

    run_id = world.fake.runs_for(world.repo, pull.head_sha)[0]["id"]
    calls = [(r.method, SHA.sub("SHA", r.path), r.status) for r in world.fake.log]
    assert calls == [
        ("POST", "/app/installations/%d/access_tokens" % world.installation_id, 201),
        ("GET", "/repos/acme/mesh/pulls/1", 200),
        ("GET", "/repos/acme/mesh/commits/SHA/check-runs", 200),
        ("POST", "/repos/acme/mesh/check-runs", 201),
        ("GET", "/repos/acme/mesh/pulls/1/files", 200),
        ("GET", "/repos/acme/mesh/pulls/1", 200),  # the diff
        ("GET", "/repos/acme/mesh/git/trees/SHA", 200),  # base
        *[("GET", "/repos/acme/mesh/git/blobs/SHA", 200)] * 10,  # the changed files at base
        ("GET", "/repos/acme/mesh/git/trees/SHA", 200),  # head
        ("GET", "/repos/acme/mesh/tarball/SHA", 302),
        ("PATCH", f"/repos/acme/mesh/check-runs/{run_id}", 200),
        ("GET", "/repos/acme/mesh/pulls/1/comments", 200),
        ("GET", "/repos/acme/mesh/pulls/1/reviews", 200),
        ("POST", "/repos/acme/mesh/pulls/1/reviews", 200),
    ]
    assert {r.path.rsplit("/", 1)[1] for r in blob_reads(world)} == {
        blob_sha(vs(f"svc{i}").encode()) for i in range(10)
    }
    assert world.fake.requests("GET", "/tarball/")[0].path.endswith(f"/tarball/{pull.head_sha}")
    assert len(world.fake.comments_on(world.repo, pull.number)) == 10


def test_the_download_host_gets_no_token(world, cold):
    pull = world.pull(manifests(120), faulty([0]))
    world.run(review.run(job_context(world, pull)))

    [api_call] = world.fake.requests("GET", "/tarball/")
    assert api_call.status == 302
    [download] = world.fake.codeload.requests
    assert download.url.host == "codeload.github.com"
    assert download.url.path == f"/acme/mesh/legacy.tar.gz/{pull.head_sha}"
    assert "token" in download.url.params  # the link's own short-lived credential
    assert "authorization" not in download.headers
    assert world.fake.runs_for(world.repo, pull.head_sha)[0]["conclusion"] == "failure"


def destination_rule(i):
    host = f"svc{i}.mesh.svc.cluster.local"
    return (
        f"apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n"
        f"  name: svc{i}\n  namespace: mesh\nspec:\n  host: {host}\n"
        f"  subsets:\n  - name: v1\n    labels: {{version: v1}}\n"
    )


def review_outcome(changed, threshold, monkeypatch):
    """Run one cold review in a fresh fake; what the author sees, and the calls it took."""
    monkeypatch.setattr(changeset, "CACHE", BlobCache())
    monkeypatch.setattr(tarball, "TARBALL_THRESHOLD", threshold)
    base = {**manifests(200), **{f"apps/rules/dr{i}.yaml": destination_rule(i) for i in range(80)}}
    # The changed routes name subset v2, which only the unchanged DestinationRules can refute.
    head = {
        path: text.replace(".cluster.local}", ".cluster.local, subset: v2}")
        for path, text in faulty(changed).items()
    }
    with respx.mock(assert_all_called=False) as mock:
        world = make_world(mock)
        pull = world.pull(base, head)
        world.run(review.run(job_context(world, pull)))
        [check] = world.fake.runs_for(world.repo, pull.head_sha)
        output = (
            check["conclusion"],
            check["output"]["title"],
            check["output"]["summary"],
            check["_annotations"],
        )
        comments = sorted(
            (
                (c["path"], c["start_line"], c["line"], c["body"])
                for c in world.fake.comments_on(world.repo, pull.number)
            ),
            key=repr,
        )
        return output, comments, [SHA.sub("SHA", r.path) for r in world.fake.log]


@pytest.mark.parametrize("changed", [range(10), range(60)], ids=["head archive", "base archive"])
def test_findings_and_comments_are_those_of_the_blob_path(changed, monkeypatch):
    by_archive, archive_comments, archive_calls = review_outcome(changed, 50, monkeypatch)
    by_blobs, blob_comments, blob_calls = review_outcome(changed, 10**9, monkeypatch)

    assert by_archive == by_blobs
    assert archive_comments == blob_comments
    rules = [a for a in by_archive[3] if a["title"] == "subset-not-defined"]
    assert len(rules) == len(changed)  # proof the unchanged DestinationRules were read
    assert archive_calls.count("/repos/acme/mesh/tarball/SHA") == 1
    assert "/repos/acme/mesh/tarball/SHA" not in blob_calls
    assert len(archive_calls) < 30 < len(blob_calls)


# -- which archive, and when --------------------------------------------------------------------


def test_a_fork_pull_request_reads_the_head_archive_from_the_base_repository(world):
    files = manifests(120)
    pull = world.pull(files, faulty([3]), fork="contributor/mesh")
    cache = BlobCache()
    change = change_set(world, pull, cache)

    [archive] = world.fake.requests("GET", "/tarball/")
    assert archive.path == f"/repos/acme/mesh/tarball/{pull.head_sha}"
    assert world.fake.codeload.requests[0].url.path == f"/acme/mesh/legacy.tar.gz/{pull.head_sha}"
    assert_head_texts_are_exact(change, cache, {**files, **faulty([3])})


def test_a_few_missing_blobs_are_read_one_by_one(world):
    pull = world.pull(manifests(tarball.TARBALL_THRESHOLD), faulty([0]))
    change_set(world, pull, BlobCache())
    assert not world.fake.requests("GET", "/tarball/")
    assert len(blob_reads(world)) == tarball.TARBALL_THRESHOLD


def test_a_large_pull_request_reads_the_base_archive_once_and_nothing_else_in_bulk(world):
    files = manifests(300)
    pull = world.pull(files, faulty(range(100)))
    cache = BlobCache()
    change = change_set(world, pull, cache)

    [archive] = world.fake.requests("GET", "/tarball/")
    assert archive.path == f"/repos/acme/mesh/tarball/{pull.base_sha}"
    assert not blob_reads(world)  # the 100 head files are rebuilt from base text and patch
    assert_head_texts_are_exact(change, cache, {**files, **faulty(range(100))})


def test_the_sweeper_reads_a_default_branch_through_its_archive(world):
    files = manifests(120)
    sha = world.fake.push_branch(world.repo, files)
    revision = world.run(fetch_revision(world.client, world.repo, sha, BlobCache()))

    [archive] = world.fake.requests("GET", "/tarball/")
    assert archive.path == f"/repos/acme/mesh/tarball/{sha}"
    assert not blob_reads(world)
    assert len(revision.files) == 120 and all(p.documents for p in revision.parsed.values())


# -- archives that cannot be (fully) used --------------------------------------------------------


def serve_instead(world, pull, archive):
    world.fake.codeload.served[pull.head_sha] = archive


def one_file_pull(world, count=120):
    files = manifests(count)
    pull = world.pull(files, faulty([0]))
    return pull, {**files, **faulty([0])}


def test_a_member_that_does_not_hash_to_the_tree_sha_is_not_cached(world):
    pull, files = one_file_pull(world)
    tampered_path = "apps/team7/vs7.yaml"
    tampered = files[tampered_path].replace("svc7.mesh", "evil.mesh")  # as export-subst would
    serve_instead(world, pull, make_tarball(TOP, {**files, tampered_path: tampered}, pull.head_sha))
    cache = BlobCache()
    change = change_set(world, pull, cache)

    real_sha = blob_sha(files[tampered_path].encode())
    # The base side of the changed file, and the tampered one, by blob: nothing else.
    assert [r.path.rsplit("/", 1)[1] for r in blob_reads(world)] == [
        blob_sha(vs("svc0").encode()),
        real_sha,
    ]
    assert all(cache.texts[sha] != tampered.encode() for sha in list(cache.texts))
    assert blob_sha(tampered.encode()) not in cache.texts
    assert_head_texts_are_exact(change, cache, files)


def test_links_devices_and_paths_outside_the_top_folder_are_skipped(world):
    pull, files = one_file_pull(world)
    hostile = {
        "apps/team1/vs1.yaml",
        "apps/team2/vs2.yaml",
        "apps/team3/vs3.yaml",
        "apps/team4/vs4.yaml",
        "apps/team5/vs5.yaml",
    }

    def add(tar):
        def member(name, kind, **attrs):
            info = tarfile.TarInfo(name)
            info.type = kind
            for key, value in attrs.items():
                setattr(info, key, value)
            tar.addfile(info)

        member(f"{TOP}/apps/team1/vs1.yaml", tarfile.SYMTYPE, linkname="/etc/passwd")
        member(f"{TOP}/apps/team2/vs2.yaml", tarfile.LNKTYPE, linkname=f"{TOP}/apps/team0/vs0.yaml")
        member(f"{TOP}/apps/team3/vs3.yaml", tarfile.CHRTYPE, devmajor=1, devminor=3)
        for name, path in (
            (f"/{TOP}/apps/team4/vs4.yaml", "apps/team4/vs4.yaml"),
            (f"{TOP}/../{TOP}/apps/team5/vs5.yaml", "apps/team5/vs5.yaml"),
            ("other-top/apps/team5/vs5.yaml", "apps/team5/vs5.yaml"),
        ):
            data = files[path].encode()  # the right content, at the wrong place
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

    others = {p: t for p, t in files.items() if p not in hostile}
    serve_instead(world, pull, make_tarball(TOP, others, pull.head_sha, add))
    cache = BlobCache()
    change = change_set(world, pull, cache)

    fetched = {r.path.rsplit("/", 1)[1] for r in blob_reads(world)}
    assert fetched == {blob_sha(vs("svc0").encode())} | {
        blob_sha(files[p].encode()) for p in hostile
    }
    assert_head_texts_are_exact(change, cache, files)


def test_a_member_over_1_mib_is_skipped_and_the_rest_still_read(world):
    files = manifests(120)
    big = "apps/big.yaml"
    files[big] = vs("big") + "# " + "x" * (1024 * 1024) + "\n"
    pull = world.pull(files, faulty([0]))
    change = change_set(world, pull, BlobCache())

    assert len(blob_reads(world)) == 1  # the base side of the changed file
    [skipped] = [change.parsed[f.key] for f in change.head if f.path == big]
    assert skipped.skipped.startswith("larger than 1 MiB")


@pytest.mark.parametrize(
    "archive",
    [
        b"",
        b"not a gzip stream at all",
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 200,
    ],
    ids=["empty", "not gzip", "corrupt gzip"],
)
def test_a_corrupt_archive_falls_back_to_blobs(world, archive):
    pull, files = one_file_pull(world)
    serve_instead(world, pull, archive)
    cache = BlobCache()
    change = change_set(world, pull, cache)

    assert len(blob_reads(world)) == 1 + 119
    assert_head_texts_are_exact(change, cache, files)


def test_a_truncated_archive_keeps_what_it_verified_and_reads_the_rest(world):
    pull, files = one_file_pull(world)
    whole = make_tarball(TOP, files, pull.head_sha)
    serve_instead(world, pull, whole[: len(whole) // 2])
    cache = BlobCache()
    change = change_set(world, pull, cache)

    assert 1 < len(blob_reads(world)) < 1 + 119
    assert_head_texts_are_exact(change, cache, files)


def test_an_archive_over_the_download_cap_falls_back_to_blobs(world, monkeypatch):
    monkeypatch.setattr(tarball, "MAX_ARCHIVE_BYTES", 1000)
    pull, files = one_file_pull(world)
    cache = BlobCache()
    change = change_set(world, pull, cache)
    assert len(world.fake.requests("GET", "/tarball/")) == 1
    assert len(blob_reads(world)) == 1 + 119
    assert_head_texts_are_exact(change, cache, files)


def test_unpacking_stops_at_the_byte_cap(world, monkeypatch):
    monkeypatch.setattr(tarball, "MAX_UNPACKED_BYTES", 40_000)
    pull, files = one_file_pull(world)
    cache = BlobCache()
    change = change_set(world, pull, cache)
    assert 1 < len(blob_reads(world)) < 1 + 119
    assert_head_texts_are_exact(change, cache, files)


@pytest.mark.parametrize("status", [404, 502])
def test_github_refusing_the_archive_falls_back_to_blobs(world, status):
    pull, files = one_file_pull(world)
    world.fake.fail("GET", r"/repos/acme/mesh/tarball/.*", status, times=3)
    cache = BlobCache()
    change = change_set(world, pull, cache)

    attempts = world.fake.requests("GET", "/tarball/")
    assert [r.status for r in attempts] == [status] * (3 if status >= 500 else 1)
    assert not world.fake.codeload.requests
    assert len(blob_reads(world)) == 1 + 119
    assert_head_texts_are_exact(change, cache, files)


def test_an_archive_that_failed_is_not_asked_for_again_in_the_same_review(world):
    files = manifests(120)
    added = {f"apps/new/vs{i}.yaml": vs(f"new{i}") for i in range(60)}
    # Without patches the 60 added files cannot be rebuilt: the head archive is wanted twice,
    # for the changed files and then for the whole head tree.
    pull = world.pull(files, added, omit_patch=set(added))
    world.fake.fail("GET", r"/repos/acme/mesh/tarball/.*", 404, times=5)
    cache = BlobCache()
    change = change_set(world, pull, cache)

    assert len(world.fake.requests("GET", "/tarball/")) == 1
    assert len(blob_reads(world)) == 180
    assert_head_texts_are_exact(change, cache, {**files, **added})


def test_a_download_host_error_is_retried_through_a_new_link(world):
    pull, files = one_file_pull(world)
    world.fake.fail("GET", r"/acme/mesh/legacy\.tar\.gz/.*", 503)
    cache = BlobCache()
    change = change_set(world, pull, cache)

    assert [r.status for r in world.fake.requests("GET", "/tarball/")] == [302, 302]
    assert [len(r.url.params["token"]) > 0 for r in world.fake.codeload.requests] == [True, True]
    assert len(blob_reads(world)) == 1
    assert_head_texts_are_exact(change, cache, files)


def test_a_rate_limited_archive_retries_the_job_instead_of_2000_blob_reads(world):
    pull, _ = one_file_pull(world)
    world.fake.secondary_rate_limit("GET", r"/repos/acme/mesh/tarball/.*", retry_after=90)
    with pytest.raises(RetryableError) as info:
        change_set(world, pull, BlobCache())
    assert info.value.retry_after == 90
    assert len(blob_reads(world)) == 1


# -- the extraction itself ------------------------------------------------------------------------


def test_extraction_keeps_only_verified_regular_files():
    a, b = b"kind: A\n", b"kind: B\n"
    wanted = {"x/a.yaml": blob_sha(a), "x/b.yaml": blob_sha(b), "empty.yaml": blob_sha(b"")}

    def add(tar):
        link = tarfile.TarInfo(f"{TOP}/empty.yaml")
        link.type, link.linkname = tarfile.SYMTYPE, "x/a.yaml"
        tar.addfile(link)

    archive = make_tarball(
        TOP, {"x/a.yaml": a, "x/b.yaml": b"kind: changed\n", "c.txt": b"c"}, "0" * 40, add
    )
    unpacked = tarball.extract(archive, wanted)
    assert unpacked.texts == {blob_sha(a): a}
    assert unpacked.mismatched == 1
    assert unpacked.problem is None


def test_extraction_reads_a_plain_tar_too_and_ignores_the_pax_global_header():
    raw = io.BytesIO()
    with tarfile.open(
        fileobj=raw, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"comment": "f" * 40}
    ) as tar:
        info = tarfile.TarInfo(f"{TOP}/a.yaml")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"a: "))
    unpacked = tarball.extract(raw.getvalue(), {"a.yaml": blob_sha(b"a: ")})
    assert unpacked.texts == {blob_sha(b"a: "): b"a: "} and unpacked.problem is None


# -- over real HTTP -------------------------------------------------------------------------------


@pytest.mark.e2e
def test_over_http_the_redirect_to_the_other_loopback_host_drops_the_token(monkeypatch):
    """httpx itself (no respx) follows GitHub's 302 and leaves Authorization behind."""
    import asyncio

    from bot.github.client import GitHubApp
    from tests.fakegithub.world import World
    from tests.loopback import FakeServer

    monkeypatch.setattr(changeset, "CACHE", BlobCache())
    with FakeServer() as server:
        fake = server.fake
        assert fake.codeload.url == f"http://localhost:{server.port}"
        installation = fake.install("acme", "acme/mesh")
        world = World(
            fake, GitHubApp(fake.app_id, fake.private_key, server.url, timeout=5), installation
        )
        files = manifests(120)
        pull = world.pull(files, faulty([0]))

        async def read_and_close():
            try:
                return await fetch(
                    world.client,
                    PullRequest.from_json(
                        {
                            "number": pull.number,
                            "head": {"sha": pull.head_sha, "repo": pull.head_repo.json()},
                            "base": {"sha": pull.base_sha, "repo": pull.repo.json()},
                        }
                    ),
                    changeset.CACHE,
                )
            finally:
                await world.app.aclose()

        change = asyncio.run(read_and_close())
        [download] = fake.codeload.requests
        assert download.url.host == "localhost" and "authorization" not in download.headers
        assert [r.status for r in fake.requests("GET", "/tarball/")] == [302]
        assert len(fake.requests("GET", "/git/blobs/")) == 1
        assert_head_texts_are_exact(change, changeset.CACHE, {**files, **faulty([0])})
