from tests.fakegithub import standins

standins.install()


import pytest  # noqa: E402


@pytest.fixture
def world(respx_mock):
    """The fake GitHub with the App installed on `acme/mesh`, and the App's client."""
    from tests.fakegithub.world import make_world

    return make_world(respx_mock)
