"""The visibility rule: allow-lists only, fail closed, and the scope routing agrees with it."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.access import can_see, scope_of, scopes_for
from assistant.store.keyword import BM25KeywordIndex
from assistant.types import ROLES, Chunk, Identity

ORGS = ["northlake-college", "donghai-polytechnic", "huaxin-robotics", "meridian-cnc", "odd org/1"]

identities = st.builds(
    Identity,
    user=st.none() | st.just("u"),
    org=st.none() | st.sampled_from(ORGS),
    role=st.none() | st.sampled_from(ROLES),
)
metadata = st.fixed_dictionaries(
    {},
    optional={
        "visibility": st.sampled_from(["public", "consortium", "org", "secret", "", None]),
        "contributor": st.sampled_from([*ORGS, "", None]),
        "allowed_roles": st.sampled_from(["", "teacher", "staff,teacher", "admin", None]),
    },
)


def _expected(identity: Identity, meta: dict[str, Any]) -> bool:
    """The rule of DESIGN.md, written out independently."""
    vis, contributor, roles = (
        meta.get("visibility"),
        meta.get("contributor"),
        meta.get("allowed_roles"),
    )
    if vis not in ("public", "consortium", "org") or not contributor or roles is None:
        return False
    member = identity.org is not None and identity.role is not None
    if vis == "consortium" and not member:
        return False
    if vis == "org" and not (member and identity.org == contributor):
        return False
    wanted = [r for r in roles.split(",") if r]
    return not wanted or (member and (identity.role in wanted or identity.role == "admin"))


@settings(max_examples=500, deadline=None)
@given(identities, metadata)
def test_can_see_matches_the_rule(identity: Identity, meta: dict[str, Any]) -> None:
    assert can_see(identity, meta) == _expected(identity, meta)


def test_missing_visibility_is_never_visible() -> None:
    admin = Identity("root", "huaxin-robotics", "admin")
    assert not can_see(admin, {"contributor": "huaxin-robotics", "allowed_roles": ""})
    assert not can_see(admin, {"visibility": "public", "allowed_roles": ""})


def _chunk(i: int, visibility: str, contributor: str, roles: tuple[str, ...]) -> Chunk:
    return Chunk(
        chunk_id=f"c{i}",
        doc_id=f"d{i}",
        text=f"torque value {i}",
        source=f"{contributor}/x{i}.md",
        title="t",
        section="",
        chunk_index=0,
        content_sha256="0",
        contributor=contributor,
        contributor_type="school",
        kind="other",
        visibility=visibility,
        license="x",
        allowed_roles=roles,
    )


chunks_strategy = st.lists(
    st.tuples(
        st.sampled_from(["public", "consortium", "org"]),
        st.sampled_from(ORGS),
        st.sampled_from([(), ("teacher",), ("staff", "teacher"), ("admin",)]),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(identities, chunks_strategy)
def test_scope_routing_and_keyword_mask_return_only_allowed(
    identity: Identity, specs: list[tuple[str, str, tuple[str, ...]]]
) -> None:
    chunks = [_chunk(i, *spec) for i, spec in enumerate(specs)]
    scopes = {sq.scope: sq.role_flag for sq in scopes_for(identity)}
    index = BM25KeywordIndex.__new__(BM25KeywordIndex)
    BM25KeywordIndex.__init__(index, directory=None)  # type: ignore[arg-type]
    index._set(
        None,
        [c.chunk_id for c in chunks],
        [{"public": 0, "consortium": 1, "org": 2}[c.visibility] for c in chunks],
        {
            "contributor": [c.contributor for c in chunks],
            "kind": ["other"] * len(chunks),
            "edition": [""] * len(chunks),
        },
        [[not c.allowed_roles or r in c.allowed_roles for r in ROLES] for c in chunks],
        1,
    )
    mask = index.mask_for(identity)
    for chunk, allowed_by_mask in zip(chunks, mask, strict=True):
        meta = chunk.to_metadata()
        allowed = can_see(identity, meta)
        assert bool(allowed_by_mask) == allowed
        scope = scope_of(chunk.visibility, chunk.contributor, bool(chunk.allowed_roles))
        routed = scope in scopes and (scopes[scope] is None or bool(meta[scopes[scope]]))
        assert routed == allowed, (identity, meta, scope)
    assert np.all((mask == 0) | (mask == 1))
