import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.waivers.grammar import (
    CommandError,
    Help,
    ListWaivers,
    Recheck,
    Unwaive,
    Waive,
    find_commands,
    format_command,
    parse,
)

RULES = frozenset({"fault-injection", "permissive-mtls", "short-host-name", "sidecar-missing"})


def one(body: str):
    [command] = list(find_commands(body, RULES))
    return command


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "/footgun waive fault-injection VirtualService/bookinfo/ratings until 2026-12-31 because chaos test",
            Waive(
                "fault-injection",
                "VirtualService/bookinfo/ratings",
                dt.date(2026, 12, 31),
                None,
                "chaos test",
            ),
        ),
        (
            "/footgun waive permissive-mtls mesh/legacy.yaml for 14d because migrating the batch jobs",
            Waive("permissive-mtls", "mesh/legacy.yaml", None, 14, "migrating the batch jobs"),
        ),
        (
            "/footgun waive sidecar-missing for 7d because new team, Sidecar next sprint",
            Waive("sidecar-missing", None, None, 7, "new team, Sidecar next sprint"),
        ),
        (
            "/footgun waive until 2027-01-15 because load test in staging",
            Waive(None, None, dt.date(2027, 1, 15), None, "load test in staging"),
        ),
        ("/footgun unwaive 12", Unwaive(12)),
        ("/footgun unwaive #7", Unwaive(7)),
        ("/footgun waivers", ListWaivers()),
        ("/footgun recheck", Recheck()),
        ("/footgun help", Help()),
    ],
)
def test_valid_commands(text, expected):
    assert one(f"Thanks!\n{text}\n") == expected


@pytest.mark.parametrize(
    "text, problem",
    [
        ("/footgun", "needs a command"),
        ("/footgun wave fault-injection for 3d because x", "Did you mean `waive`?"),
        ("/footgun waive fault-injection until 2026-12-31", "needs a reason"),
        ("/footgun waive fault-injection until 2026-12-31 because", "reason after `because`"),
        ("/footgun waive fault-injection because chaos", "needs a deadline"),
        ("/footgun waive fault-injection until 2026-02-30 because x", "is not a date"),
        ("/footgun waive fault-injection until tomorrow because x", "is not a date"),
        ("/footgun waive fault-injection for 2w because x", "is not a duration"),
        ("/footgun waive fault-injection for 0d because x", "is not a duration"),
        ("/footgun waive fault-injektion for 3d because x", "Closest: `fault-injection`"),
        ("/footgun waive fault-injection a b for 3d because x", "at most one target"),
        ("/footgun unwaive twelve", "waiver's number"),
        ("/footgun recheck now", "takes no arguments"),
    ],
)
def test_malformed_commands_say_what_is_wrong_and_show_the_forms(text, problem):
    error = one(text)
    assert isinstance(error, CommandError)
    assert problem in error.problem
    assert "/footgun waive <rule>" in error.reply()


def test_quoted_and_fenced_commands_do_not_run():
    body = "> /footgun waive fault-injection for 3d because x\n```\n/footgun recheck\n```\nok"
    assert list(find_commands(body, RULES)) == []


def test_words_that_merely_start_with_the_prefix_are_not_commands():
    assert list(find_commands("/footgunrecheck\nsee /footgun help", RULES)) == []


@pytest.mark.parametrize(
    "body",
    [
        "```\n~~~\n/footgun recheck\n```",  # a ~~~ line inside a ``` block does not close it
        "````\n```\n/footgun recheck\n````",  # nor does a shorter run of the same character
        "```yaml\n/footgun recheck\n",  # an unclosed block runs to the end of the comment
        "~~~\n/footgun recheck\n```  \n~~~x\n/footgun help",  # `~~~x` is text inside, not a closer
    ],
)
def test_commands_inside_any_fenced_block_do_not_run(body):
    assert list(find_commands(body, RULES)) == []


def test_a_block_closed_by_a_longer_run_of_its_character_ends_there():
    assert list(find_commands("```\nx\n`````\n/footgun recheck", RULES)) == [Recheck()]


def test_windows_line_endings_tabs_and_no_break_spaces_separate_words():
    body = "ok\r\n/footgun\twaive fault-injection\u00a0for 3d because x\r\n/footgun help\r\n"
    assert list(find_commands(body, RULES)) == [
        Waive("fault-injection", None, None, 3, "x"),
        Help(),
    ]


@pytest.mark.parametrize("word", ["²", "١٢", "#", "##1", "1" * 13, "-1", "+1"])
def test_unwaive_takes_only_ascii_digits(word):
    result = parse(f"/footgun unwaive {word}", RULES)
    assert isinstance(result, CommandError) and "waiver's number" in result.problem


def test_dates_take_only_ascii_digits():
    result = parse("/footgun waive fault-injection until ٢٠٢٦-١٢-٣١ because x", RULES)
    assert isinstance(result, CommandError) and "is not a date" in result.problem


def test_the_reason_is_everything_after_the_first_because():
    assert one("/footgun waive fault-injection for 3d because because until for 2d") == Waive(
        "fault-injection", None, None, 3, "because until for 2d"
    )


def test_several_commands_in_one_comment():
    assert list(find_commands("/footgun recheck\n/footgun waivers", RULES)) == [
        Recheck(),
        ListWaivers(),
    ]


words = st.text(
    st.characters(
        min_codepoint=33,
        max_codepoint=0x2FFF,
        blacklist_characters="`",
        blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs"),
    ),
    min_size=1,
    max_size=12,
)
targets = st.one_of(
    st.none(),
    st.from_regex(r"[A-Z][a-z]{2,12}/[a-z][a-z0-9-]{0,10}/[a-z][a-z0-9-]{0,10}", fullmatch=True),
    st.from_regex(r"[a-z]{1,8}/[a-z0-9-]{1,10}\.yaml", fullmatch=True),
)


@st.composite
def waives(draw):
    rule = draw(st.sampled_from(sorted(RULES)))
    target = draw(targets)
    if draw(st.booleans()):
        until, days = draw(st.dates(dt.date(2000, 1, 1), dt.date(2999, 12, 31))), None
    else:
        until, days = None, draw(st.integers(1, 9999))
    reason = " ".join(draw(st.lists(words, min_size=1, max_size=8)))
    implied = draw(st.booleans())
    return Waive(None if implied else rule, None if implied else target, until, days, reason)


commands = st.one_of(
    waives(),
    st.builds(Unwaive, st.integers(0, 10**9)),
    st.just(ListWaivers()),
    st.just(Recheck()),
    st.just(Help()),
)


@given(commands)
def test_every_valid_command_round_trips(command):
    assert parse(format_command(command), RULES) == command


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_no_input_crashes_the_parser(text):
    for result in find_commands(text, RULES):
        assert isinstance(result, CommandError | Waive | Unwaive | ListWaivers | Recheck | Help)


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from(
            [
                "/footgun",
                "waive",
                "unwaive",
                "until",
                "for",
                "because",
                "3d",
                "2026-12-31",
                "fault-injection",
                "x/y.yaml",
                "12",
                "help",
            ]
        ),
        max_size=10,
    )
)
def test_no_arrangement_of_keywords_crashes_the_parser(tokens):
    result = parse(" ".join(["/footgun", *tokens]), RULES)
    assert isinstance(result, CommandError | Waive | Unwaive | ListWaivers | Recheck | Help)
