"""Alembic migrations, shipped beside `bot` so that `footgun db upgrade` works from a wheel too."""
