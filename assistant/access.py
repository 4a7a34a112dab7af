"""Who may see what: allow-list rules shared by every retrieval path.

A chunk is visible only when a rule below says so; anything missing or unknown is denied.
The store keeps chunks in one collection per partition (visibility scope, restricting roles,
language), so that the rule is applied by choosing which collections to query (exact and fast,
no metadata filter), and `can_see` re-checks every record on the way out.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assistant.errors import AccessError
from assistant.types import ROLES, Identity

_SLUG = re.compile(r"[^a-z0-9]+")


def validate_identity(identity: Identity) -> Identity:
    """Check an identity's role; an org without a role (or the reverse) is anonymous.

    Raises:
        AccessError: the role is not one of student, staff, teacher, admin.
    """
    if identity.role is not None and identity.role not in ROLES:
        raise AccessError(f"unknown role {identity.role!r}; roles: {', '.join(ROLES)}")
    return identity


def can_see(identity: Identity, meta: Mapping[str, Any]) -> bool:
    """Whether `identity` may see a chunk with this metadata (allow-list, fail closed)."""
    visibility = meta.get("visibility")
    contributor = meta.get("contributor")
    if not isinstance(visibility, str) or not isinstance(contributor, str) or not contributor:
        return False
    if visibility == "public":
        allowed = True
    elif visibility == "consortium":
        allowed = not identity.anonymous
    elif visibility == "org":
        allowed = not identity.anonymous and identity.org == contributor
    else:
        return False
    if not allowed:
        return False
    roles = meta.get("allowed_roles")
    if roles is None:
        return False
    if isinstance(roles, str):
        roles = tuple(r for r in roles.split(",") if r)
    if not roles:
        return True
    if identity.anonymous:
        return False
    return identity.role == "admin" or identity.role in roles


OVERSEER_ROLES: tuple[str, ...] = ("staff", "teacher", "admin")


def usage_meta(org: str | None) -> dict[str, Any]:
    """The access metadata of usage data: what the members of `org` typed (questions,
    conversation turns, comments) and the upload jobs run for `org`.

    It is that org's private data (a question can carry internal facts): `visibility: org`.
    What anonymous callers typed (`org` None) is public, restricted to admins.
    """
    if not org:
        return {"visibility": "public", "contributor": "anonymous", "allowed_roles": ("admin",)}
    return {"visibility": "org", "contributor": org, "allowed_roles": ()}


def may_oversee(reader: Identity, org: str | None) -> bool:
    """Whether `reader` may read the usage data of `org`'s members (None: of anonymous callers):
    only staff, teachers and admins, and only where `can_see` admits `usage_meta(org)` —
    their own org's, and anonymous callers' for admins. Exports, dashboards and job status
    all ask this one question."""
    return reader.role in OVERSEER_ROLES and can_see(reader, usage_meta(org))


def _org_slug(org: str) -> str:
    slug = _SLUG.sub("-", org.lower()).strip("-")[:40] or "org"
    digest = hashlib.sha256(org.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}"


def scope_of(visibility: str, contributor: str, allowed_roles: Sequence[str] = ()) -> str:
    """The visibility scope of a chunk: `public`, `consortium` or `org-<slug>`, and for chunks
    restricted to some roles `-r-` and those roles (`public-r-staff_teacher`)."""
    if visibility == "public":
        base = "public"
    elif visibility == "consortium":
        base = "consortium"
    elif visibility == "org":
        base = f"org-{_org_slug(contributor)}"
    else:
        raise AccessError(f"unknown visibility {visibility!r}")
    roles = sorted({r for r in allowed_roles if r})
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise AccessError(f"unknown role {unknown[0]!r}; roles: {', '.join(ROLES)}")
    return f"{base}-r-{'_'.join(roles)}" if roles else base


def language_tag(language: str | None) -> str:
    """A language code safe in a collection name (`en`, `zh`; `und` when unknown)."""
    return re.sub(r"[^a-z0-9]", "", (language or "").lower())[:12] or "und"


def partition_of(scope: str, language: str | None) -> str:
    """The storage partition (collection suffix) of a chunk: its scope and its language.

    Every partition holds chunks that one rule admits or refuses as a whole, so a search picks
    the partitions an identity may read and queries them without any metadata filter (Chroma
    filters before its vector index: a `where` costs 50-100x an unfiltered query at 100k
    chunks), and a cross-language search picks the partitions of the other languages.
    """
    return f"{scope}.{language_tag(language)}"


_ROLE_SET = "(?:{0})(?:_(?:{0}))*".format("|".join(ROLES))


@dataclass(frozen=True)
class Partition:
    """A partition name taken apart: scope base, restricting roles (empty: none), language."""

    base: str
    roles: tuple[str, ...]
    language: str


def parse_partition(name: str) -> Partition | None:
    """The parts of a partition name, or None when it is not one (never guess)."""
    m = re.fullmatch(
        rf"(public|consortium|org-[a-z0-9-]*-[0-9a-f]{{8}})(?:-r-({_ROLE_SET}))?\.([a-z0-9]+)",
        name,
    )
    if m is None:
        return None
    roles = tuple(m.group(2).split("_")) if m.group(2) else ()
    return Partition(m.group(1), roles, m.group(3))


def readable_bases(identity: Identity) -> tuple[str, ...]:
    """The scope bases an identity may read (before role restrictions)."""
    if identity.anonymous:
        return ("public",)
    return ("public", "consortium", f"org-{_org_slug(str(identity.org))}")


def may_read_partition(identity: Identity, name: str) -> bool:
    """Whether every chunk of a partition is visible to `identity` (same rule as `can_see`)."""
    part = parse_partition(name)
    if part is None or part.base not in readable_bases(identity):
        return False
    if not part.roles:
        return True
    if identity.anonymous:
        return False
    return identity.role == "admin" or identity.role in part.roles
