"""GitHub's REST API over the in-memory state: routing, auth, pagination, limits and errors.

Every route is written as its OpenAPI path template, and a test checks each against GitHub's
published description, so the fake cannot drift into endpoints GitHub does not have.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import httpx
import jwt

from tests.fakegithub.git import hunk_of, right_side_lines, unified_diff
from tests.fakegithub.state import LoggedRequest, Pull, Repo, State, Token

DOCS = "https://docs.github.com/rest"
MAX_SUMMARY = 65535
MAX_BODY = 65536
"""Characters GitHub accepts in a comment, review, review comment or issue body (422 above)."""
MAX_TITLE = 256
MAX_ANNOTATIONS = 50
DIFF_MAX_FILES = 300
DIFF_MAX_LINES = 20_000
FILES_MAX = 3000
JWT_MAX_SECONDS = 600
LATE = "fake_github_late"
"""Response extension: seconds the HTTP server holds this answer back (see `State.answer_late`)."""
TOKEN_SECONDS = 3600


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, errors: Any = None, headers: dict[str, str] | None = None
    ):
        self.status, self.message, self.errors, self.headers = (
            status,
            message,
            errors,
            headers or {},
        )


UNAUTHENTICATED = {"/app-manifests/{code}/conversions"}
Handler = Callable[["Call"], Any]
ROUTES: list[tuple[str, str, re.Pattern[str], Handler]] = []


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    pattern = re.sub(
        r"\{(\w+)\}", lambda m: f"(?P<{m[1]}>{'.+' if m[1] == 'path' else '[^/]+'})", template
    )

    def register(handler: Handler) -> Handler:
        ROUTES.append((method, template, re.compile(pattern + "$"), handler))
        return handler

    return register


class Call:
    """One request, with what handlers need: path parameters, query, JSON body, auth."""

    def __init__(self, fake: FakeGitHub, request: httpx.Request, params: dict[str, str]):
        self.fake, self.request = fake, request
        self.params = {k: unquote(v) for k, v in params.items()}
        self.query = dict(request.url.params)
        raw = request.content
        self.body = json.loads(raw) if raw else {}
        self.installation: int | None = None
        self.app_id: int | None = None
        self.token: Token | None = None

    @property
    def writer(self) -> str:
        """The login that what this request writes is attributed to."""
        return (self.token and self.token.actor) or self.fake.bot_login

    @property
    def app(self) -> dict[str, Any]:
        if self.token and self.token.app:
            return dict(self.token.app)
        return {"id": self.fake.app_id, "slug": self.fake.slug}

    @property
    def repo(self) -> Repo:
        name = f"{self.params['owner']}/{self.params['repo']}"
        repo = self.fake.repos.get(name)
        installation = self.fake.installations.get(self.installation or -1)
        if repo is None or installation is None or name not in installation.repos:
            raise ApiError(404, "Not Found")
        return repo

    @property
    def pull(self) -> Pull:
        pull = self.repo.pulls.get(int(self.params["pull_number"]))
        if pull is None:
            raise ApiError(404, "Not Found")
        return pull

    def accept(self) -> str:
        return self.request.headers.get("accept", "")


class FakeGitHub(State):
    """The fake: `handle` answers an `httpx.Request` (for respx); `asgi()` serves it over HTTP."""

    def __init__(
        self,
        base_url: str = "https://api.github.com",
        web_url: str | None = None,
        codeload_url: str | None = None,
        **kwargs: Any,
    ):
        from bot.settings import web_url_for
        from tests.fakegithub.archive import Codeload, codeload_url_for
        from tests.fakegithub.manifests import ManifestFlow

        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        self.prefix = httpx.URL(self.base_url).path.rstrip("/")
        self.web_url = (web_url or web_url_for(self.base_url)).rstrip("/")
        self.manifests = ManifestFlow(self)
        self.codeload = Codeload(self, codeload_url or codeload_url_for(self.base_url))

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.codeload.serves(request):
            return self.codeload.download(request)
        web_path = self.manifests.web_path(request)
        if web_path is not None:
            return self.manifests.submit(request, web_path)
        path = request.url.path
        if self.prefix and path.startswith(self.prefix):
            path = path[len(self.prefix) :] or "/"
        try:
            response = self._dispatch(request, path)
        except ApiError as exc:
            body = {"message": exc.message, "documentation_url": DOCS, "status": str(exc.status)}
            if exc.errors is not None:
                body["errors"] = exc.errors
            response = httpx.Response(exc.status, json=body, headers=exc.headers)
        body = json.loads(request.content) if request.content else None
        self.log.append(
            LoggedRequest(
                request.method, path, dict(request.url.params), response.status_code, body, response
            )
        )
        return response

    def _dispatch(self, request: httpx.Request, path: str) -> httpx.Response:
        late = 0.0
        for fault in self.faults:
            if fault.times > 0 and fault.method == request.method and fault.path.fullmatch(path):
                if fault.after > 0:
                    fault.after -= 1
                    continue
                fault.times -= 1
                if fault.late > 0:
                    late = fault.late
                    break
                if fault.status == 0:
                    raise httpx.ReadTimeout("timed out", request=request)
                raise ApiError(fault.status, fault.body["message"], headers=fault.headers)
        for method, template, pattern, handler in ROUTES:
            match = pattern.match(path)
            if match and method == request.method:
                call = Call(self, request, match.groupdict())
                self._authenticate(call, template)
                result = handler(call)
                if not isinstance(result, httpx.Response):
                    status = 201 if method == "POST" else 200
                    result = httpx.Response(status, json=result)
                if late:
                    result.extensions[LATE] = late
                return result
        raise ApiError(404, "Not Found")

    # -- auth ---------------------------------------------------------------------------------

    def _authenticate(self, call: Call, template: str) -> None:
        header = call.request.headers.get("authorization", "")
        if template in UNAUTHENTICATED:
            return
        if template == "/app" or template.startswith("/app/"):
            scheme, _, credential = header.partition(" ")
            if scheme.lower() != "bearer":
                raise ApiError(401, "A JSON web token could not be decoded")
            call.app_id = self._verify_jwt(credential)
            return
        scheme, _, credential = header.partition(" ")
        token = self.tokens.get(credential) if scheme.lower() in ("token", "bearer") else None
        if token is None or token.expires_at <= self.now():
            raise ApiError(401, "Bad credentials")
        call.installation, call.token = token.installation, token
        if token.permissions is not None and call.request.method != "GET":
            needed = _permission_for(template)
            if not any(token.permissions.get(p) == "write" for p in needed):
                raise ApiError(403, "Resource not accessible by integration")

    def _verify_jwt(self, token: str) -> int:
        """The App the JWT is from: this fake's own App, or one created by the manifest flow."""
        try:
            issuer = str(jwt.decode(token, options={"verify_signature": False}).get("iss"))
            public_key = self.manifests.public_key(issuer) or self.public_key
            claims = jwt.decode(
                token,
                public_key,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            raise ApiError(401, "A JSON web token could not be decoded") from None
        now = self.now()
        if str(claims.get("iss")) not in {str(self.app_id), *map(str, self.manifests.apps)}:
            raise ApiError(401, "'Issuer' claim ('iss') must be an Integer")
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
            raise ApiError(
                401,
                "'Expiration time' claim ('exp') must be a numeric value "
                "representing the future time at which the assertion expires",
            )
        if (
            claims["exp"] - claims.get("iat", now) > JWT_MAX_SECONDS
            or claims["exp"] > now + JWT_MAX_SECONDS + 60
        ):
            raise ApiError(401, "'Expiration time' claim ('exp') is too far in the future")
        return int(claims["iss"])

    # -- what people do on GitHub (the bot's own writes go through the API) -----------------------

    def comment_as(self, user: str, repo: str, number: int, body: str) -> dict[str, Any]:
        """`user` comments on issue or pull request `number` (the conversation)."""
        comment_id = self.next_id()
        comment = {
            "id": comment_id,
            "body": body,
            "user": _user(user),
            "html_url": f"https://github.com/{repo}/pull/{number}#issuecomment-{comment_id}",
            "created_at": _iso(self.now()),
            "updated_at": _iso(self.now()),
            "author_association": "MEMBER",
            "_repo": repo,
            "_issue": number,
        }
        self.issue_comments[comment_id] = comment
        return comment

    def reply_as(self, user: str, comment_id: int, body: str) -> dict[str, Any]:
        """`user` replies in the thread of review comment `comment_id` (GitHub links the root)."""
        parent = self.review_comments[comment_id]
        root = parent.get("in_reply_to_id") or parent["id"]
        reply_id = self.next_id()
        reply = {
            **parent,
            "id": reply_id,
            "body": body,
            "user": _user(user),
            "in_reply_to_id": root,
            "html_url": f"https://github.com/{parent['_repo']}/pull/{parent['_pull']}#discussion_r{reply_id}",
            "created_at": _iso(self.now()),
            "updated_at": _iso(self.now()),
        }
        self.review_comments[reply_id] = reply
        return reply

    def mock(self, respx_mock: Any) -> None:
        """Route every request to this fake's host through `handle`."""
        url = httpx.URL(self.base_url)
        respx_mock.route(host=url.host).mock(side_effect=self._handle_in_process)
        respx_mock.route(host=httpx.URL(self.codeload.url).host).mock(side_effect=self.handle)

    def _handle_in_process(self, request: httpx.Request) -> httpx.Response:
        """`handle` for respx: an answer held back (`answer_late`) never comes, as after a timeout."""
        response = self.handle(request)
        if response.extensions.get(LATE):
            raise httpx.ReadTimeout("the answer came after the client's timeout", request=request)
        return response

    def asgi(self):
        from tests.fakegithub.asgi import asgi_app

        return asgi_app(self)


def _permission_for(template: str) -> tuple[str, ...]:
    """The token permissions, any of which allows a write to `template` (GitHub's permission
    names: a pull request's conversation is an issue, writable with either)."""
    if template.startswith("/repos/{owner}/{repo}/check-runs"):
        return ("checks",)
    if template.startswith("/repos/{owner}/{repo}/pulls"):
        return ("pull_requests",)
    if template.startswith("/repos/{owner}/{repo}/issues"):
        return ("issues", "pull_requests")
    return ("contents",)


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _paginate(
    call: Call, items: list[Any], key: str | None = None, extra: dict[str, Any] | None = None
) -> httpx.Response:
    """One page of `items` with GitHub's Link header (per_page at most 100, default 30)."""
    per_page = min(int(call.query.get("per_page", 30)), 100)
    page = max(int(call.query.get("page", 1)), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    chunk = items[(page - 1) * per_page : page * per_page]
    links = []

    def link(number: int, rel: str) -> str:
        return f'<{call.request.url.copy_merge_params({"page": number})}>; rel="{rel}"'

    if page > 1:
        links += [link(page - 1, "prev"), link(1, "first")]
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    headers = {"link": ", ".join(links)} if links else {}
    body: Any = chunk if key is None else {**(extra or {}), key: chunk}
    return httpx.Response(200, json=body, headers=headers)


def _user(login: str) -> dict[str, Any]:
    return {
        "login": login,
        "id": abs(hash(login)) % 10**8,
        "type": "Bot" if login.endswith("[bot]") else "User",
    }


# -- app and installations --------------------------------------------------------------------


@route("GET", "/app")
def get_app(call: Call) -> Any:
    created = call.fake.manifests.apps.get(call.app_id or -1)
    if created is not None:
        return call.fake.manifests.json(created)
    return {"id": call.fake.app_id, "slug": call.fake.slug, "name": "Istio footguns"}


@route("DELETE", "/installation/token")
def revoke_installation_token(call: Call) -> Any:
    """The token the request authenticated with stops working at once (204)."""
    credential = call.request.headers.get("authorization", "").partition(" ")[2]
    call.fake.tokens.pop(credential, None)
    return httpx.Response(204)


@route("POST", "/app-manifests/{code}/conversions")
def create_app_from_manifest(call: Call) -> Any:
    app = call.fake.manifests.convert(call.params["code"])
    if app is None:
        raise ApiError(404, "Not Found")
    return app


@route("POST", "/app/installations/{installation_id}/access_tokens")
def create_token(call: Call) -> Any:
    installation = call.fake.installations.get(int(call.params["installation_id"]))
    if installation is None:
        raise ApiError(404, "Not Found")
    token = Token("ghs_" + secrets.token_hex(18), installation.id, call.fake.now() + TOKEN_SECONDS)
    call.fake.tokens[token.token] = token
    return {
        "token": token.token,
        "expires_at": _iso(token.expires_at),
        "permissions": {"checks": "write", "pull_requests": "write", "contents": "read"},
        "repository_selection": "selected",
    }


# -- pull requests ------------------------------------------------------------------------------


def _pull_json(fake: FakeGitHub, pull: Pull) -> dict[str, Any]:
    def side(repo: Repo, ref: str, sha: str) -> dict[str, Any]:
        return {
            "label": f"{repo.owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "repo": repo.json(),
            "user": _user(repo.owner),
        }

    return {
        "id": pull.repo.id * 1000 + pull.number,
        "number": pull.number,
        "state": pull.state,
        "title": pull.title,
        "user": _user(pull.user),
        "draft": False,
        "html_url": f"https://github.com/{pull.repo.full_name}/pull/{pull.number}",
        "head": side(pull.head_repo, pull.head_ref, pull.head_sha),
        "base": side(pull.repo, pull.base_ref, pull.base_sha),
        "merged": pull.merged_at is not None,
        "merged_at": _iso(pull.merged_at) if pull.merged_at is not None else None,
        "merge_commit_sha": pull.head_sha if pull.merged_at is not None else None,
    }


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}")
def get_pull(call: Call) -> Any:
    pull = call.pull
    if "diff" not in call.accept():
        return _pull_json(call.fake, pull)
    changes = pull.changes()
    lines = sum(c.additions + c.deletions for c in changes)
    if len(changes) > DIFF_MAX_FILES or lines > DIFF_MAX_LINES:
        reason = (
            f"the maximum number of files ({DIFF_MAX_FILES})"
            if len(changes) > DIFF_MAX_FILES
            else f"the maximum number of lines ({DIFF_MAX_LINES})"
        )
        raise ApiError(
            406,
            f"Sorry, the diff exceeded {reason}. Consider using 'List pull "
            "requests files' API or locally cloning the repository instead.",
            [{"resource": "PullRequest", "field": "diff", "code": "too_large"}],
        )
    text = unified_diff(changes, pull.repo.store.files_of[pull.base_sha])
    return httpx.Response(200, text=text, headers={"content-type": "text/plain; charset=utf-8"})


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files")
def list_pull_files(call: Call) -> Any:
    files = []
    for change in call.pull.changes()[:FILES_MAX]:
        item = {
            "sha": change.sha,
            "filename": change.path,
            "status": change.status,
            "additions": change.additions,
            "deletions": change.deletions,
            "changes": change.additions + change.deletions,
        }
        if change.patch is not None:
            item["patch"] = change.patch
        files.append(item)
    return _paginate(call, files)


# -- git data -----------------------------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}/tarball/{ref}")
def download_tarball(call: Call) -> Any:
    """302 to a short-lived link on the download host (see `tests/fakegithub/archive.py`)."""
    repo = call.repo
    ref = call.params["ref"]
    sha = ref if ref in repo.store.commits else repo.branches.get(ref)
    if sha is None:
        raise ApiError(404, "Not Found")
    return httpx.Response(302, headers={"location": call.fake.codeload.link(repo, ref, sha)})


@route("GET", "/repos/{owner}/{repo}/git/trees/{tree_sha}")
def get_tree(call: Call) -> Any:
    store = call.repo.store
    sha = call.params["tree_sha"]
    if sha in store.commits:
        sha = store.commits[sha].tree
    if sha not in store.trees:
        raise ApiError(404, "Not Found")
    recursive = call.query.get("recursive") not in (None, "", "0", "false")
    walked = store.walk(sha) if recursive else [(e.name, e) for e in store.trees[sha]]
    limit = call.fake.tree_limit
    truncated = recursive and len(walked) > limit
    entries = []
    for path, entry in walked[:limit] if truncated else walked:
        item = {"path": path, "mode": entry.mode, "type": entry.type, "sha": entry.sha}
        if entry.type == "blob":
            item["size"] = len(store.blobs[entry.sha])
        entries.append(item)
    return {"sha": sha, "tree": entries, "truncated": truncated}


@route("GET", "/repos/{owner}/{repo}/git/blobs/{file_sha}")
def get_blob(call: Call) -> Any:
    data = call.repo.store.blobs.get(call.params["file_sha"])
    if data is None:
        raise ApiError(404, "Not Found")
    if "raw" in call.accept():
        return httpx.Response(200, content=data)
    return {
        "sha": call.params["file_sha"],
        "size": len(data),
        "encoding": "base64",
        "content": base64.encodebytes(data).decode(),
    }


@route("GET", "/repos/{owner}/{repo}/contents/{path}")
def get_contents(call: Call) -> Any:
    repo = call.repo
    ref = call.query.get("ref") or repo.default_branch
    files = repo.store.files_of.get(repo.branches.get(ref, ref))
    data = files.get(call.params["path"]) if files is not None else None
    if data is None:
        raise ApiError(404, "Not Found")
    if "raw" in call.accept():
        return httpx.Response(200, content=data)
    from tests.fakegithub.git import blob_sha

    return {
        "type": "file",
        "encoding": "base64",
        "size": len(data),
        "name": call.params["path"].rsplit("/", 1)[-1],
        "path": call.params["path"],
        "sha": blob_sha(data),
        "content": base64.encodebytes(data).decode(),
    }


# -- check runs ---------------------------------------------------------------------------------


def _check_output(call: Call, run: dict[str, Any], output: dict[str, Any] | None) -> None:
    if output is None:
        return
    if "title" not in output or "summary" not in output:
        raise ApiError(422, 'Invalid request.\n\n"title", "summary" weren\'t supplied.')
    for key in ("summary", "text"):
        if len(output.get(key) or "") > MAX_SUMMARY:
            raise ApiError(
                422,
                "Invalid request.",
                [f"Only {MAX_SUMMARY} characters are allowed; {len(output[key])} were supplied."],
            )
    annotations = output.get("annotations") or []
    if len(annotations) > MAX_ANNOTATIONS:
        raise ApiError(
            422,
            "Invalid request.",
            [f"Only {MAX_ANNOTATIONS} annotations are allowed; {len(annotations)} were supplied."],
        )
    for item in annotations:
        missing = {"path", "start_line", "end_line", "annotation_level", "message"} - set(item)
        if missing:
            raise ApiError(422, f"Invalid request.\n\n{sorted(missing)} weren't supplied.")
    run["output"].update({k: output[k] for k in ("title", "summary", "text") if k in output})
    run["_annotations"].extend(annotations)
    run["output"]["annotations_count"] = len(run["_annotations"])


def _run_update(call: Call, run: dict[str, Any]) -> None:
    body = call.body
    for key in (
        "name",
        "details_url",
        "external_id",
        "status",
        "conclusion",
        "started_at",
        "completed_at",
    ):
        if key in body:
            run[key] = body[key]
    if body.get("conclusion") and "status" not in body:
        run["status"] = "completed"
    if run["status"] == "completed" and not run.get("conclusion"):
        raise ApiError(422, 'Invalid request.\n\n"conclusion" wasn\'t supplied.')
    if run["status"] == "completed" and not run.get("completed_at"):
        run["completed_at"] = _iso(call.fake.now())
    _check_output(call, run, body.get("output"))


def _run_json(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if not k.startswith("_")}


@route("POST", "/repos/{owner}/{repo}/check-runs")
def create_check_run(call: Call) -> Any:
    repo = call.repo
    if "name" not in call.body or "head_sha" not in call.body:
        raise ApiError(422, 'Invalid request.\n\n"name", "head_sha" weren\'t supplied.')
    if call.body["head_sha"] not in repo.store.commits:
        raise ApiError(422, "No commit found for SHA: " + call.body["head_sha"])
    run_id = call.fake.next_id()
    run = {
        "id": run_id,
        "name": call.body["name"],
        "head_sha": call.body["head_sha"],
        "status": "queued",
        "conclusion": None,
        "started_at": _iso(call.fake.now()),
        "completed_at": None,
        "external_id": None,
        "details_url": None,
        "html_url": f"https://github.com/{repo.full_name}/runs/{run_id}",
        "app": call.app,
        "output": {
            "title": None,
            "summary": None,
            "text": None,
            "annotations_count": 0,
            "annotations_url": f"{call.fake.base_url}/repos/{repo.full_name}/check-runs/{run_id}/annotations",
        },
        "pull_requests": [],
        "_repo": repo.full_name,
        "_annotations": [],
    }
    _run_update(call, run)
    call.fake.check_runs[run_id] = run
    return _run_json(run)


@route("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}")
def update_check_run(call: Call) -> Any:
    run = _find_run(call)
    _run_update(call, run)
    return _run_json(run)


@route("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}")
def get_check_run(call: Call) -> Any:
    return _run_json(_find_run(call))


@route("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}/annotations")
def list_annotations(call: Call) -> Any:
    return _paginate(call, _find_run(call)["_annotations"])


def _find_run(call: Call) -> dict[str, Any]:
    run = call.fake.check_runs.get(int(call.params["check_run_id"]))
    if run is None or run["_repo"] != call.repo.full_name:
        raise ApiError(404, "Not Found")
    return run


@route("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs")
def list_check_runs_for_ref(call: Call) -> Any:
    repo = call.repo
    runs = [
        r
        for r in call.fake.check_runs.values()
        if r["_repo"] == repo.full_name
        and r["head_sha"] == call.params["ref"]
        and ("check_name" not in call.query or r["name"] == call.query["check_name"])
        and ("app_id" not in call.query or str(r["app"]["id"]) == call.query["app_id"])
    ]
    runs.sort(key=lambda r: -r["id"])
    if call.query.get("filter", "latest") == "latest":
        seen: set[str] = set()
        runs = [r for r in runs if not (r["name"] in seen or seen.add(r["name"]))]
    return _paginate(call, [_run_json(r) for r in runs], "check_runs", {"total_count": len(runs)})


# -- reviews and review comments ----------------------------------------------------------------


def _fits(resource: str, body: Any) -> None:
    """422 for a body over GitHub's limit, answered as GitHub answers it."""
    if isinstance(body, str) and len(body) > MAX_BODY:
        raise ApiError(
            422,
            "Validation Failed",
            [
                {
                    "resource": resource,
                    "code": "unprocessable",
                    "field": "data",
                    "message": f"Body is too long (maximum is {MAX_BODY} characters)",
                }
            ],
        )


def _comment_json(comment: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in comment.items() if not k.startswith("_")}


def _new_review_comment(
    call: Call, pull: Pull, item: dict[str, Any], review_id: int, commit_id: str
) -> dict[str, Any]:
    """Validate one comment against the diff at `commit_id`; 422 as GitHub answers."""
    changes = {c.path: c for c in pull.changes()}
    path = item.get("path")
    if "body" not in item or path is None:
        raise ApiError(422, "Unprocessable Entity", ['"path", "body" weren\'t supplied.'])
    _fits("PullRequestReviewComment", item["body"])
    if path not in changes:
        raise ApiError(422, "Unprocessable Entity", ["Path could not be resolved"])
    subject = item.get("subject_type", "line")
    line, start = item.get("line"), item.get("start_line")
    if subject == "line":
        patch = changes[path].patch
        if (
            item.get("side", "RIGHT") != "RIGHT"
            or not isinstance(line, int)
            or line not in right_side_lines(patch)
        ):
            raise ApiError(422, "Unprocessable Entity", ["Line could not be resolved"])
        if start is not None and (
            not isinstance(start, int)
            or start > line
            or hunk_of(patch, start) != hunk_of(patch, line)
        ):
            raise ApiError(
                422,
                "Unprocessable Entity",
                ["Start line must precede the end line and be part of the same hunk"],
            )
    comment_id = call.fake.next_id()
    repo = pull.repo.full_name
    return {
        "id": comment_id,
        "pull_request_review_id": review_id,
        "path": path,
        "line": line if subject == "line" else None,
        "start_line": start,
        "original_line": line if subject == "line" else None,
        "side": "RIGHT" if subject == "line" else None,
        "subject_type": subject,
        "commit_id": commit_id,
        "original_commit_id": commit_id,
        "body": item["body"],
        "in_reply_to_id": item.get("in_reply_to"),
        "user": _user(call.writer),
        "html_url": f"https://github.com/{repo}/pull/{pull.number}#discussion_r{comment_id}",
        "created_at": _iso(call.fake.now()),
        "updated_at": _iso(call.fake.now()),
        "_repo": repo,
        "_pull": pull.number,
    }


@route("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews")
def create_review(call: Call) -> Any:
    pull = call.pull
    event = call.body.get("event")
    if event in ("COMMENT", "REQUEST_CHANGES") and not call.body.get("body"):
        raise ApiError(
            422, "Unprocessable Entity", ["Body is required for comment or request changes events"]
        )
    _fits("PullRequestReview", call.body.get("body"))
    commit_id = call.body.get("commit_id") or pull.head_sha
    review_id = call.fake.next_id()
    comments = [
        _new_review_comment(call, pull, item, review_id, commit_id)
        for item in call.body.get("comments") or []
    ]
    for comment in comments:
        if comment["subject_type"] == "file":
            raise ApiError(
                422, "Unprocessable Entity", ["subject_type is not a review comment field"]
            )
        call.fake.review_comments[comment["id"]] = comment
    state = {
        "COMMENT": "COMMENTED",
        "APPROVE": "APPROVED",
        "REQUEST_CHANGES": "CHANGES_REQUESTED",
    }.get(event or "", "PENDING")
    review = {
        "id": review_id,
        "user": _user(call.writer),
        "body": call.body.get("body", ""),
        "state": state,
        "commit_id": commit_id,
        "submitted_at": _iso(call.fake.now()),
        "html_url": f"https://github.com/{pull.repo.full_name}/pull/{pull.number}#pullrequestreview-{review_id}",
        "_repo": pull.repo.full_name,
        "_pull": pull.number,
    }
    call.fake.reviews[review_id] = review
    return httpx.Response(200, json=_comment_json(review))


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews")
def list_reviews(call: Call) -> Any:
    pull = call.pull
    return _paginate(
        call, [_comment_json(r) for r in call.fake.reviews_on(pull.repo.full_name, pull.number)]
    )


def _since(call: Call, comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The comments updated at or after the `since` query parameter (all without it)."""
    since = call.query.get("since")
    if not since:
        return comments
    try:
        when = dt.datetime.fromisoformat(since)
    except ValueError:
        raise ApiError(422, "Invalid value for since") from None
    return [c for c in comments if dt.datetime.fromisoformat(c["updated_at"]) >= when]


@route("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/comments")
def list_review_comments(call: Call) -> Any:
    pull = call.pull
    comments = _since(call, call.fake.comments_on(pull.repo.full_name, pull.number))
    return _paginate(call, [_comment_json(c) for c in comments])


@route("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/comments")
def create_review_comment(call: Call) -> Any:
    pull = call.pull
    if "commit_id" not in call.body:
        raise ApiError(422, "Unprocessable Entity", ['"commit_id" wasn\'t supplied.'])
    comment = _new_review_comment(
        call, pull, call.body, call.fake.next_id(), call.body["commit_id"]
    )
    call.fake.review_comments[comment["id"]] = comment
    return _comment_json(comment)


def _review_comment(call: Call) -> dict[str, Any]:
    """The review comment named in the path, if it belongs to this repository; else 404."""
    comment = call.fake.review_comments.get(int(call.params["comment_id"]))
    if comment is None or comment["_repo"] != call.repo.full_name:
        raise ApiError(404, "Not Found")
    return comment


@route("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies")
def reply_to_review_comment(call: Call) -> Any:
    pull = call.pull
    parent = _review_comment(call)
    if parent["_pull"] != pull.number:
        raise ApiError(404, "Not Found")
    item = {
        "path": parent["path"],
        "body": call.body.get("body"),
        "line": parent["line"],
        "subject_type": parent["subject_type"],
        "in_reply_to": parent["id"],
    }
    if item["body"] is None:
        raise ApiError(422, "Unprocessable Entity", ['"body" wasn\'t supplied.'])
    comment = _new_review_comment(
        call, pull, item, parent["pull_request_review_id"], parent["commit_id"]
    )
    call.fake.review_comments[comment["id"]] = comment
    return _comment_json(comment)


@route("GET", "/repos/{owner}/{repo}/pulls/comments/{comment_id}")
def get_review_comment(call: Call) -> Any:
    comment = _review_comment(call)
    return _comment_json(comment)


@route("PATCH", "/repos/{owner}/{repo}/pulls/comments/{comment_id}")
def update_review_comment(call: Call) -> Any:
    comment = _review_comment(call)
    if "body" not in call.body:
        raise ApiError(422, "Unprocessable Entity", ['"body" wasn\'t supplied.'])
    _fits("PullRequestReviewComment", call.body["body"])
    comment["body"] = call.body["body"]
    comment["updated_at"] = _iso(call.fake.now())
    return _comment_json(comment)


# -- issues, issue comments, labels, reactions, permissions -------------------------------------


def _issue_number(call: Call) -> int:
    repo, number = call.repo, int(call.params["issue_number"])
    if number not in repo.pulls and number not in repo.issues:
        raise ApiError(404, "Not Found")
    return number


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
def list_issue_comments(call: Call) -> Any:
    number, repo = _issue_number(call), call.repo.full_name
    comments = [
        c for c in call.fake.issue_comments.values() if c["_repo"] == repo and c["_issue"] == number
    ]
    return _paginate(call, [_comment_json(c) for c in _since(call, comments)])


@route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
def create_issue_comment(call: Call) -> Any:
    number, repo = _issue_number(call), call.repo.full_name
    if "body" not in call.body:
        raise ApiError(422, 'Invalid request.\n\n"body" wasn\'t supplied.')
    _fits("IssueComment", call.body["body"])
    comment_id = call.fake.next_id()
    comment = {
        "id": comment_id,
        "body": call.body["body"],
        "user": _user(call.writer),
        "html_url": f"https://github.com/{repo}/pull/{number}#issuecomment-{comment_id}",
        "created_at": _iso(call.fake.now()),
        "updated_at": _iso(call.fake.now()),
        "_repo": repo,
        "_issue": number,
    }
    call.fake.issue_comments[comment_id] = comment
    return _comment_json(comment)


@route("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def update_issue_comment(call: Call) -> Any:
    comment = call.fake.issue_comments.get(int(call.params["comment_id"]))
    if comment is None or comment["_repo"] != call.repo.full_name:
        raise ApiError(404, "Not Found")
    _fits("IssueComment", call.body.get("body"))
    comment["body"] = call.body.get("body", comment["body"])
    return _comment_json(comment)


def _react(call: Call, subject: str, store: dict[int, dict[str, Any]]) -> Any:
    comment_id = int(call.params["comment_id"])
    if comment_id not in store or store[comment_id]["_repo"] != call.repo.full_name:
        raise ApiError(404, "Not Found")
    content = call.body.get("content")
    if content not in ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"):
        raise ApiError(
            422,
            "Validation Failed",
            [{"resource": "Reaction", "field": "content", "code": "invalid"}],
        )
    for reaction in call.fake.reactions:
        if (reaction["_subject"], reaction["_comment"], reaction["content"]) == (
            subject,
            comment_id,
            content,
        ):
            return httpx.Response(200, json=_comment_json(reaction))  # GitHub: 200, already reacted
    reaction = {
        "id": call.fake.next_id(),
        "content": content,
        "user": _user(call.writer),
        "created_at": _iso(call.fake.now()),
        "_subject": subject,
        "_comment": comment_id,
    }
    call.fake.reactions.append(reaction)
    return _comment_json(reaction)


@route("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
def react_issue_comment(call: Call) -> Any:
    return _react(call, "issue_comment", call.fake.issue_comments)


@route("POST", "/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions")
def react_review_comment(call: Call) -> Any:
    return _react(call, "review_comment", call.fake.review_comments)


@route("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission")
def collaborator_permission(call: Call) -> Any:
    level = call.repo.permissions.get(call.params["username"])
    if level is None:
        raise ApiError(404, "Not Found")
    legacy = {"maintain": "write", "triage": "read"}.get(level, level)
    return {"permission": legacy, "role_name": level, "user": _user(call.params["username"])}


@route("POST", "/repos/{owner}/{repo}/issues")
def create_issue(call: Call) -> Any:
    """Labels that do not exist yet are created; an assignee must be able to be assigned (422)."""
    repo = call.repo
    if not call.body.get("title"):
        raise ApiError(
            422,
            "Validation Failed",
            [{"resource": "Issue", "field": "title", "code": "missing_field"}],
        )
    if len(call.body["title"]) > MAX_TITLE:
        raise ApiError(
            422,
            "Validation Failed",
            [
                {
                    "resource": "Issue",
                    "code": "custom",
                    "field": "title",
                    "message": f"title is too long (maximum is {MAX_TITLE} characters)",
                }
            ],
        )
    _fits("Issue", call.body.get("body"))
    assignees = list(call.body.get("assignees") or [])
    for login in assignees:
        if repo.permissions.get(login, "none") == "none":
            raise ApiError(
                422,
                "Validation Failed",
                [{"value": login, "resource": "Issue", "field": "assignees", "code": "invalid"}],
            )
    number = len(repo.issues) + len(repo.pulls) + 1
    labels = repo.labels.setdefault(str(number), {})
    for label in call.body.get("labels") or []:
        name = label["name"] if isinstance(label, dict) else str(label)
        labels[name] = {"name": name, "id": abs(hash(name)) % 10**8}
    issue = {
        "id": call.fake.next_id(),
        "number": number,
        "title": str(call.body["title"]),
        "body": call.body.get("body"),
        "state": "open",
        "user": _user(call.writer),
        "assignees": [_user(login) for login in assignees],
        "assignee": _user(assignees[0]) if assignees else None,
        "created_at": _iso(call.fake.now()),
        "updated_at": _iso(call.fake.now()),
        "html_url": f"https://github.com/{repo.full_name}/issues/{number}",
    }
    repo.issues[number] = issue
    return _issue_json(repo, issue)


def _issue_json(repo: Repo, issue: dict[str, Any]) -> dict[str, Any]:
    return {**issue, "labels": list(repo.labels.get(str(issue["number"]), {}).values())}


@route("GET", "/repos/{owner}/{repo}/issues")
def list_issues(call: Call) -> Any:
    """Issues and pull requests (as GitHub lists both), filtered by `state`, `labels`, `creator`."""
    repo = call.repo
    state = call.query.get("state", "open")
    wanted = [name for name in call.query.get("labels", "").split(",") if name]
    items = [_issue_json(repo, issue) for issue in repo.issues.values()]
    items += [
        {
            "number": p.number,
            "title": p.title,
            "state": p.state,
            "user": _user(p.user),
            "body": None,
            "labels": list(repo.labels.get(str(p.number), {}).values()),
            "pull_request": {
                "url": f"{call.fake.base_url}/repos/{repo.full_name}/pulls/{p.number}"
            },
        }
        for p in repo.pulls.values()
    ]
    items = [
        i
        for i in items
        if (state == "all" or i["state"] == state)
        and all(name in {label["name"] for label in i["labels"]} for name in wanted)
        and ("creator" not in call.query or i["user"]["login"] == call.query["creator"])
    ]
    items.sort(key=lambda i: -i["number"])
    return _paginate(call, items)


@route("GET", "/repos/{owner}/{repo}/issues/{issue_number}")
def get_issue(call: Call) -> Any:
    repo, number = call.repo, _issue_number(call)
    if number in repo.issues:
        return _issue_json(repo, repo.issues[number])
    pull = repo.pulls[number]
    return {
        "number": number,
        "title": pull.title,
        "state": pull.state,
        "user": _user(pull.user),
        "labels": list(repo.labels.get(str(number), {}).values()),
        "pull_request": {"url": f"{call.fake.base_url}/repos/{repo.full_name}/pulls/{number}"},
    }


@route("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels")
def add_labels(call: Call) -> Any:
    repo, number = call.repo, _issue_number(call)
    names = call.body.get("labels") if isinstance(call.body, dict) else call.body
    labels = repo.labels.setdefault(str(number), {})
    for name in names or []:
        labels[name] = {"name": name, "id": abs(hash(name)) % 10**8}
    return httpx.Response(200, json=list(labels.values()))


@route("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}")
def remove_label(call: Call) -> Any:
    repo, number = call.repo, _issue_number(call)
    labels = repo.labels.setdefault(str(number), {})
    if call.params["name"] not in labels:
        raise ApiError(404, "Label does not exist")
    del labels[call.params["name"]]
    return list(labels.values())


# -- repositories and branches ------------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}")
def get_repository(call: Call) -> Any:
    return call.repo.json()


@route("GET", "/repos/{owner}/{repo}/branches/{branch}")
def get_branch(call: Call) -> Any:
    repo = call.repo
    sha = repo.branches.get(call.params["branch"])
    if sha is None:
        raise ApiError(404, "Branch not found")
    return {
        "name": call.params["branch"],
        "protected": False,
        "commit": {"sha": sha, "url": f"{call.fake.base_url}/repos/{repo.full_name}/commits/{sha}"},
        "_links": {"html": f"https://github.com/{repo.full_name}/tree/{call.params['branch']}"},
    }
