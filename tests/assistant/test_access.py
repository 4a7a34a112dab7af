"""The visibility rule: allow-lists only, fail closed, and the scope routing agrees with it."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.access import can_see, may_read_partition, parse_partition
from assistant.store import partition_for_chunk
from assistant.store.keyword import BM25KeywordIndex
from assistant.types import ROLES, Chunk, Identity
from tests.factories import make_chunk

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


def _chunk(
    i: int, visibility: str, contributor: str, roles: tuple[str, ...], language: str = "en"
) -> Chunk:
    return make_chunk(
        f"c{i}",
        doc_id=f"d{i}",
        text=f"torque value {i}",
        contributor=contributor,
        kind="other",
        visibility=visibility,
        allowed_roles=roles,
        language=language,
    )


chunks_strategy = st.lists(
    st.tuples(
        st.sampled_from(["public", "consortium", "org"]),
        st.sampled_from(ORGS),
        st.sampled_from([(), ("teacher",), ("staff", "teacher"), ("admin",), ("student", "staff")]),
        st.sampled_from(["en", "zh", "zh-CN", "", "??"]),
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
    index = BM25KeywordIndex.from_chunks(chunks)
    mask = index.mask_for(identity)
    for chunk, allowed_by_mask in zip(chunks, mask, strict=True):
        meta = chunk.to_metadata()
        allowed = can_see(identity, meta)
        assert bool(allowed_by_mask) == allowed
        partition = partition_for_chunk(chunk)
        assert parse_partition(partition) is not None, partition
        assert may_read_partition(identity, partition) == allowed, (identity, meta, partition)
    assert np.all((mask == 0) | (mask == 1))


def test_partition_names_are_exact() -> None:
    """A partition name that is not exactly scope, roles and language is never read."""
    admin = Identity("root", "huaxin-robotics", "admin")
    own = partition_for_chunk(_chunk(0, "org", "huaxin-robotics", ("staff",), "zh"))
    assert own.endswith("-r-staff.zh") and may_read_partition(admin, own)
    base = own.split("-r-")[0]
    for bad in (
        base,
        f"{base}.",
        f"{base}-r-.en",
        f"{base}-r-staff-1a2b3c4d.en",
        f"{base}-r-boss.en",
        f"{base}.en.zh",
        f"x{base}.en",
        "public-r.en",
    ):
        assert not may_read_partition(admin, bad), bad
    other = partition_for_chunk(_chunk(1, "org", "meridian-cnc", (), "en"))
    assert not may_read_partition(admin, other)
