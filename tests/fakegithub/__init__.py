"""One fake GitHub for every test: an in-memory model answering GitHub's REST API.

Use it with respx (`fake.mock(respx_mock)`) in unit tests, or serve `fake.asgi()` with uvicorn
on loopback for end-to-end tests.
"""

from tests.fakegithub.api import ROUTES, FakeGitHub
from tests.fakegithub.state import key_pair

__all__ = ["ROUTES", "FakeGitHub", "key_pair"]
