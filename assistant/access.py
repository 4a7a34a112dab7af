"""Who may see what: allow-list rules shared by every retrieval path.

A chunk is visible only when a rule below says so; anything missing or unknown is denied.
The store keeps chunks in one collection per visibility scope, so that most of the rule is
applied by choosing which collections to query (exact and fast), and `can_see` re-checks
every hit on the way out.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
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


def _org_slug(org: str) -> str:
    slug = _SLUG.sub("-", org.lower()).strip("-")[:40] or "org"
    digest = hashlib.sha256(org.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}"


def scope_of(visibility: str, contributor: str, restricted: bool) -> str:
    """The storage scope (collection suffix) a chunk belongs to."""
    if visibility == "public":
        base = "public"
    elif visibility == "consortium":
        base = "consortium"
    elif visibility == "org":
        base = f"org-{_org_slug(contributor)}"
    else:
        raise AccessError(f"unknown visibility {visibility!r}")
    return f"{base}-r" if restricted else base


@dataclass(frozen=True)
class ScopeQuery:
    """One scope to search, and the role condition its chunks still need (None: all pass)."""

    scope: str
    role_flag: str | None


def scopes_for(identity: Identity) -> list[ScopeQuery]:
    """The scopes an identity may search; role-restricted scopes carry a role condition."""
    bases = ["public"]
    if not identity.anonymous:
        bases += ["consortium", f"org-{_org_slug(str(identity.org))}"]
    out = [ScopeQuery(b, None) for b in bases]
    if not identity.anonymous:
        flag = None if identity.role == "admin" else f"role_{identity.role}"
        out += [ScopeQuery(f"{b}-r", flag) for b in bases]
    return out
