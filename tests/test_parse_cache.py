"""The on-disk parse cache: round trip, versioning, and damage that must be a miss, not a crash."""

from __future__ import annotations

import os
import pickle
import threading
from pathlib import Path

import pytest

from bot.cli import parse_cache
from bot.cli.parse_cache import ParseCache
from rules.core.loader import SourceFile, load, parse_file
from tests.cli_support import FAULTY

KEY = "0123456789abcdef0123456789abcdef01234567"


def entry_file(cache: ParseCache, key: str = KEY):
    [path] = [p for p in cache.folder.glob("*") if p.name == key]
    return path


def test_entries_survive_a_new_process_and_keep_positions(tmp_path):
    parsed = parse_file("mesh/vs.yaml", FAULTY)
    parsed.documents[0].position(("spec", "http", 0, "fault"))  # composes nodes: must not be stored
    ParseCache(tmp_path)[KEY] = parsed
    assert b"yaml.nodes" not in entry_file(ParseCache(tmp_path)).read_bytes()

    fresh = ParseCache(tmp_path)
    assert KEY in fresh
    [document] = fresh[KEY].documents
    assert document._nodes is None
    assert document.body == parsed.documents[0].body
    assert document.position(("spec", "http", 0, "fault")) == (10, 5)
    resources, skipped = load([SourceFile("mesh/vs.yaml", b"", KEY)], cache=fresh)
    assert ([r.name for r in resources], skipped) == (["ratings"], [])


def test_skipped_files_are_cached_with_their_reason(tmp_path):
    ParseCache(tmp_path)[KEY] = parse_file("x.yaml", b"\xff\xfe kind: Service")
    assert ParseCache(tmp_path)[KEY].skipped.startswith("not UTF-8")


def test_xdg_cache_home_is_the_default_root(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cache = ParseCache()
    cache[KEY] = parse_file("a.yaml", FAULTY)
    assert cache.folder.parent == tmp_path / "xdg" / "footgun"
    assert entry_file(cache).is_file()


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated by a crash
        lambda data: b"",
        lambda data: b"\x00garbage" * 10,
        lambda data: pickle.dumps(("another key", None, [])),  # a misplaced entry
        lambda data: pickle.dumps((KEY, None, "not a list of documents")),
    ],
)
def test_a_damaged_entry_is_a_miss(tmp_path, damage):
    ParseCache(tmp_path)[KEY] = parse_file("a.yaml", FAULTY)
    path = entry_file(ParseCache(tmp_path))
    path.write_bytes(damage(path.read_bytes()))
    fresh = ParseCache(tmp_path)
    assert KEY not in fresh
    assert fresh.get(KEY) is None
    # The loader then parses the file again, and the entry is repaired.
    resources, _ = load([SourceFile("a.yaml", FAULTY, KEY)], cache=fresh)
    assert [r.name for r in resources] == ["ratings"]
    assert KEY in ParseCache(tmp_path)


def test_an_entry_cannot_run_code(tmp_path):
    ParseCache(tmp_path)[KEY] = parse_file("a.yaml", FAULTY)
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    entry_file(ParseCache(tmp_path)).write_bytes(pickle.dumps((KEY, None, [Exploit()])))
    assert ParseCache(tmp_path).get(KEY) is None
    assert not marker.exists()


def test_a_new_loader_version_invalidates_entries_and_removes_old_ones(tmp_path, monkeypatch):
    ParseCache(tmp_path)[KEY] = parse_file("a.yaml", FAULTY)
    old_folder = ParseCache(tmp_path).folder
    monkeypatch.setattr(parse_cache, "cache_version", lambda: "v1-changedloader")
    cache = ParseCache(tmp_path)
    assert KEY not in cache
    cache["f" * 40] = parse_file("b.yaml", FAULTY)
    assert not old_folder.exists()


def test_version_follows_the_loader_source(monkeypatch, tmp_path):
    from rules.core import loader

    changed = tmp_path / "loader.py"
    changed.write_text(Path(loader.__file__).read_text() + "\n# changed\n")
    before = parse_cache.cache_version()
    monkeypatch.setattr(loader, "__file__", str(changed))
    assert parse_cache.cache_version() != before


def test_an_unwritable_cache_just_stops_caching(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = ParseCache(blocker)
    cache[KEY] = parse_file("a.yaml", FAULTY)
    assert cache[KEY].documents  # still served from memory for this run
    assert ParseCache(blocker).get(KEY) is None


def test_concurrent_writers_and_readers_never_see_half_an_entry(tmp_path):
    parsed = parse_file("a.yaml", FAULTY * 1)
    seen: list[object] = []
    errors: list[BaseException] = []

    def write():
        for _ in range(50):
            ParseCache(tmp_path)[KEY] = parsed

    def read():
        for _ in range(200):
            try:
                entry = ParseCache(tmp_path).get(KEY)
                if entry is not None:
                    seen.append(entry.documents[0].body["metadata"]["name"])
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(3)] + [
        threading.Thread(target=read) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert set(seen) <= {"ratings"}
    assert not list(ParseCache(tmp_path).folder.rglob(".*.tmp"))


def test_mapping_interface(tmp_path):
    cache = ParseCache(tmp_path)
    cache[KEY] = parse_file("a.yaml", FAULTY)
    cache["a" * 64] = parse_file("b.yaml", FAULTY)
    assert sorted(ParseCache(tmp_path)) == sorted([KEY, "a" * 64])
    assert len(ParseCache(tmp_path)) == 2
    del cache[KEY]
    assert KEY not in ParseCache(tmp_path)
    with pytest.raises(KeyError):
        del ParseCache(tmp_path)[KEY]


def test_findings_cache_round_trip_and_damage(tmp_path):
    from bot.cli.parse_cache import FindingsCache
    from rules.core.model import Finding, ResourceRef
    from rules.core.reuse import Known

    finding = Finding(
        "fault-injection", "error", "m", "a.yaml", 0, 0, ResourceRef("Namespace", None, "n"), "fp1"
    )
    kept = (b"s" * 16, None, "m", ("spec", "http", 0, "fault"), None, ("delete",))
    known = Known([finding], {b"s" * 16}, {"Service": b"d" * 16}, {"fault-injection": [kept]})
    FindingsCache(tmp_path).put("k1", known)
    back = FindingsCache(tmp_path).get("k1")
    assert back is not None
    [found] = back.findings
    assert (found.rule, found.resource, found.fingerprint, found.path) == (
        "fault-injection",
        ResourceRef("Namespace", None, "n"),
        "fp1",
        "a.yaml",
    )
    assert (back.states, back.facts, back.problems) == (known.states, known.facts, known.problems)
    assert FindingsCache(tmp_path).get("k2") is None
    [entry] = list(FindingsCache(tmp_path).entries.folder.glob("known-*"))
    entry.write_bytes(entry.read_bytes()[:-5])
    assert FindingsCache(tmp_path).get("k1") is None
    assert list(ParseCache(tmp_path)) == []  # findings entries are not parse entries


def test_analysis_key_follows_files_paths_config_and_rule_sources(monkeypatch):
    from bot.cli import parse_cache
    from bot.cli.parse_cache import analysis_key
    from tests.helpers import config

    files = [SourceFile("a.yaml", b"", "1" * 40), SourceFile("b.yaml", b"", "2" * 40)]
    key = analysis_key(files, config())
    assert analysis_key(list(reversed(files)), config()) == key
    assert analysis_key([SourceFile("a.yaml", b"", "3" * 40), files[1]], config()) != key
    assert analysis_key([SourceFile("moved.yaml", b"", "1" * 40), files[1]], config()) != key
    assert analysis_key(files, config("default_namespace: other\n")) != key
    monkeypatch.setattr(parse_cache, "_rules_digest", lambda: "a rule changed")
    assert analysis_key(files, config()) != key


def test_relative_xdg_cache_home_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert ParseCache().root == tmp_path / ".cache" / "footgun"


DAY = 24 * 3600


def age(path, days: float) -> None:
    """Make `path` look last used `days` ago."""
    when = os.stat(path).st_mtime - days * DAY
    os.utime(path, (when, when))


def write_entry(root, key: str) -> ParseCache:
    """A fresh process writing one entry (the first write of a process is when pruning happens)."""
    cache = ParseCache(root)
    cache[key] = parse_file("a.yaml", FAULTY)
    return cache


def test_entries_unused_for_thirty_days_are_pruned_on_a_later_write(tmp_path):
    stale, recent = "a" * 40, "b" * 40
    cache = write_entry(tmp_path, stale)
    write_entry(tmp_path, recent)
    age(cache.folder / stale, 31)
    age(cache.folder / recent, 29)
    writing = cache.folder / f".{'c' * 40}.999.0.tmp"  # another process is writing this entry
    writing.write_bytes(b"half an entry")
    age(writing, 0.5)
    age(cache.root / parse_cache.PRUNED_MARKER, 2)  # the last prune was two days ago

    write_entry(tmp_path, "d" * 40)
    assert sorted(p.name for p in cache.folder.iterdir()) == sorted(
        [recent, "d" * 40, writing.name]
    )
    assert stale not in ParseCache(tmp_path) and recent in ParseCache(tmp_path)


def test_pruning_scans_the_folder_at_most_once_a_day(tmp_path):
    stale = "a" * 40
    cache = write_entry(tmp_path, stale)
    age(cache.folder / stale, 40)
    write_entry(tmp_path, "b" * 40)  # pruned minutes ago: no second scan
    assert (cache.folder / stale).is_file()
    age(cache.root / parse_cache.PRUNED_MARKER, 1.5)
    write_entry(tmp_path, "c" * 40)
    assert not (cache.folder / stale).exists()


def test_a_hit_keeps_an_entry_alive_touching_it_at_most_once_a_day(tmp_path):
    old, fresh = "a" * 40, "b" * 40
    cache = write_entry(tmp_path, old)
    write_entry(tmp_path, fresh)
    age(cache.folder / old, 29)
    age(cache.folder / fresh, 0.5)
    fresh_mtime = os.stat(cache.folder / fresh).st_mtime

    reader = ParseCache(tmp_path)
    assert old in reader and fresh in reader
    assert os.stat(cache.folder / old).st_mtime > fresh_mtime  # touched: used just now
    assert os.stat(cache.folder / fresh).st_mtime == fresh_mtime  # used within a day: left alone

    age(cache.folder / old, 2)  # two more days pass: 31 days since the write, 2 since the hit
    age(cache.root / parse_cache.PRUNED_MARKER, 2)
    write_entry(tmp_path, "c" * 40)
    assert old in ParseCache(tmp_path)


def test_an_invalid_manifest_keeps_its_error_position_in_the_cache(tmp_path):
    broken = b"apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n\tlabels: {}\n"
    ParseCache(tmp_path)[KEY] = parse_file("svc.yaml", broken)
    resources, skipped = load([SourceFile("svc.yaml", b"", KEY)], cache=ParseCache(tmp_path))
    assert [r.kind for r in resources] == ["File"] and len(skipped) == 1
    assert resources[0].position(()) == (5, 1)
