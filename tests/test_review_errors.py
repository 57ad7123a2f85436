"""The review job when GitHub misbehaves: outages, rate limits, giving up."""

import pytest

from bot.queue.jobs import RetryableError
from bot.review import job as review
from tests.fakegithub.world import job_context
from tests.fakegithub.world import virtual_service as vs

BASE = {"mesh/reviews.yaml": vs("reviews")}
HEAD = {"mesh/reviews.yaml": vs("reviews", fault=True)}


def run_job(world, pull, **kwargs):
    world.run(review.run(job_context(world, pull, **kwargs)))


def test_a_502_then_success_completes_the_review(world):
    """A read is retried in place; a write that got a 502 (GitHub may have made it) ends the
    attempt, and the next attempt looks for the check run before creating one."""
    pull = world.pull(BASE, HEAD)
    world.fake.fail("GET", r"/repos/acme/mesh/pulls/\d+", 502)
    world.fake.fail("POST", r"/repos/acme/mesh/check-runs", 502)
    with pytest.raises(RetryableError):
        run_job(world, pull)
    assert [r.status for r in world.fake.requests("GET", r"pulls/\d+$")] == [502, 200]
    run_job(world, pull)
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert check["conclusion"] == "failure"
    assert [r.status for r in world.fake.requests("POST", "check-runs$")] == [502, 201]


def test_a_lasting_outage_is_retryable_and_the_retry_does_not_duplicate(world):
    pull = world.pull(BASE, HEAD)
    world.fake.fail("POST", r"/repos/acme/mesh/pulls/\d+/reviews", 503)
    with pytest.raises(RetryableError) as info:
        run_job(world, pull)
    assert info.value.retry_after is None
    run_job(world, pull)
    assert len(world.fake.runs_for(world.repo, pull.head_sha)) == 1
    assert len(world.fake.reviews_on(world.repo, pull.number)) == 1
    assert len(world.fake.comments_on(world.repo, pull.number)) == 1


def test_a_secondary_rate_limit_hands_back_the_wait_github_asked_for(world):
    pull = world.pull(BASE, HEAD)
    world.fake.secondary_rate_limit("POST", r"/repos/acme/mesh/pulls/\d+/reviews", retry_after=37)
    with pytest.raises(RetryableError) as info:
        run_job(world, pull)
    assert info.value.retry_after == 37
    assert len(world.fake.requests("POST", "/reviews$")) == 1  # not retried in place
    run_job(world, pull)
    assert len(world.fake.reviews_on(world.repo, pull.number)) == 1


def test_giving_up_concludes_the_check_with_the_reason(world):
    pull = world.pull(BASE, HEAD)
    ctx = job_context(world, pull, attempts=5)
    world.run(
        review.give_up(ctx, RetryableError("GitHub answered 502 on GET /repos/acme/mesh", None))
    )
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert (check["status"], check["conclusion"], check["output"]["title"]) == (
        "completed",
        "failure",
        "The review could not run",
    )
    assert "gave up after 5 attempts: GitHub answered 502" in check["output"]["summary"]
    assert "/footgun recheck" in check["output"]["summary"]


def test_giving_up_after_a_partial_run_reuses_its_check_run(world):
    pull = world.pull(BASE, HEAD)
    world.fake.fail("POST", r"/repos/acme/mesh/pulls/\d+/reviews", 503, times=3)
    with pytest.raises(RetryableError):
        run_job(world, pull)
    world.run(review.give_up(job_context(world, pull), RuntimeError("boom")))
    [check] = world.fake.runs_for(world.repo, pull.head_sha)
    assert check["output"]["title"] == "The review could not run"
