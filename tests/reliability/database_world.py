"""The permission corpus with `store.database_url` set (the `canary_world_postgres` fixture),
its personas added to that database as users, each with `PASSWORD`: what a `techkb serve` or a
`techkb` command started with TECHKB_STORE__DATABASE_URL signs people in from.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.reliability.canary import PERSONAS

PASSWORD = "correct horse battery staple"
_WORLDS: dict[str, dict[str, Any]] = {}


def database_world(request: pytest.FixtureRequest) -> dict[str, Any]:
    """`canary_world_postgres` with the personas (the anonymous left out) as its users, plus
    `env` for a `techkb` process. Built once per test session."""
    world: dict[str, Any] = request.getfixturevalue("canary_world_postgres")
    url = str(world["database_url"])
    if url not in _WORLDS:
        from assistant.users_db import DatabaseUserStore

        users = DatabaseUserStore(world["home"], url)
        for name, identity in PERSONAS.items():
            if not identity.anonymous and users.get(name) is None:
                users.add(name, str(identity.org), str(identity.role), PASSWORD)
        _WORLDS[url] = {**world, "url": url, "env": {"TECHKB_STORE__DATABASE_URL": url}}
    return _WORLDS[url]
