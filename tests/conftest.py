from tests.fakegithub import standins

standins.install()
