"""The knowledge model on disk: contributors.yaml, `<file>.meta.yaml` sidecars, front matter."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from assistant.errors import MetadataError
from assistant.types import CHAIN_POSITIONS, CONTRIBUTOR_TYPES, KINDS, ROLES, VISIBILITIES

CONTRIBUTORS_FILE = "contributors.yaml"
SIDECAR_SUFFIX = ".meta.yaml"
CONTRIBUTOR_KEYS = {"id", "name", "type", "chain_position", "visibility", "license"}
DOCUMENT_KEYS = {
    "title",
    "kind",
    "visibility",
    "allowed_roles",
    "edition",
    "effective_date",
    "license",
    "language",
}
LANGUAGES = ("en", "zh")
DEFAULT_LICENSE = "unspecified"
# Folder names that say what a document is when no sidecar or front matter does.
_KIND_BY_FOLDER = {
    "standards": "standard",
    "standard": "standard",
    "procedures": "procedure",
    "procedure": "procedure",
    "sops": "procedure",
    "cases": "case",
    "case-studies": "case",
    "courses": "course",
    "course": "course",
    "modules": "course",
    "answer-keys": "course",
}


@dataclass(frozen=True)
class Contributor:
    id: str
    name: str
    type: str
    chain_position: str | None
    visibility: str
    license: str


@dataclass(frozen=True)
class DocumentMeta:
    """Metadata every chunk of a document carries (besides its position in the document)."""

    contributor: str
    contributor_type: str
    kind: str
    visibility: str
    license: str
    allowed_roles: tuple[str, ...] = ()
    edition: str | None = None
    effective_date: str | None = None
    language: str | None = None
    title: str | None = None


def _choice(value: Any, allowed: tuple[str, ...], field: str, where: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise MetadataError(f"{where}: {field} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def load_contributors(root: Path, default_visibility: str = "public") -> dict[str, Contributor]:
    """Read `<root>/contributors.yaml` (absent: no declared contributors).

    Raises:
        MetadataError: the file is malformed or holds an unknown key or value; names the file.
    """
    path = root / CONTRIBUTORS_FILE
    if not path.is_file():
        return {}
    where = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise MetadataError(f"{where}: cannot read: {e}") from e
    if not isinstance(data, dict) or set(data) - {"contributors"}:
        raise MetadataError(f"{where}: expected a single top-level key 'contributors'")
    entries = data.get("contributors") or []
    if not isinstance(entries, list):
        raise MetadataError(f"{where}: 'contributors' must be a list")
    out: dict[str, Contributor] = {}
    for i, entry in enumerate(entries):
        here = f"{where}: contributors[{i}]"
        if not isinstance(entry, dict):
            raise MetadataError(f"{here}: must be a mapping")
        unknown = set(entry) - CONTRIBUTOR_KEYS
        if unknown:
            raise MetadataError(f"{here}: unknown key(s) {', '.join(sorted(unknown))}")
        cid = entry.get("id")
        if not isinstance(cid, str) or not cid or "/" in cid:
            raise MetadataError(f"{here}: 'id' must be the contributor's folder name")
        if cid in out:
            raise MetadataError(f"{here}: duplicate id {cid!r}")
        chain = entry.get("chain_position")
        out[cid] = Contributor(
            id=cid,
            name=str(entry.get("name") or cid),
            type=_choice(entry.get("type", "unknown"), CONTRIBUTOR_TYPES, "type", here),
            chain_position=None
            if chain is None
            else _choice(chain, CHAIN_POSITIONS, "chain_position", here),
            visibility=_choice(
                entry.get("visibility", default_visibility), VISIBILITIES, "visibility", here
            ),
            license=str(entry.get("license") or DEFAULT_LICENSE),
        )
    return out


def read_sidecar(document: Path, name: str | None = None) -> dict[str, Any]:
    """The `<file>.meta.yaml` beside a document, validated ({} when there is none).

    Args:
        document: the document file.
        name: how messages name the sidecar (default: its path).

    Raises:
        MetadataError: unreadable or invalid sidecar; names the sidecar file.
    """
    path = document.with_name(document.name + SIDECAR_SUFFIX)
    if not path.is_file():
        return {}
    where = name or str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise MetadataError(f"{where}: cannot read sidecar: {e}") from e
    return validate_document_keys(data, where)


def validate_document_keys(data: Any, where: str) -> dict[str, Any]:
    """Check sidecar/front-matter keys and values; return them normalised.

    Raises:
        MetadataError: unknown key or invalid value; names `where`.
    """
    if not isinstance(data, dict):
        raise MetadataError(f"{where}: metadata must be a mapping")
    unknown = set(data) - DOCUMENT_KEYS
    if unknown:
        raise MetadataError(
            f"{where}: unknown metadata key(s) {', '.join(sorted(map(str, unknown)))}; "
            f"allowed: {', '.join(sorted(DOCUMENT_KEYS))}"
        )
    out: dict[str, Any] = {}
    for key, value in data.items():
        if value is None:
            continue
        if key == "kind":
            out[key] = _choice(value, KINDS, key, where)
        elif key == "visibility":
            out[key] = _choice(value, VISIBILITIES, key, where)
        elif key == "language":
            out[key] = _choice(value, LANGUAGES, key, where)
        elif key == "allowed_roles":
            roles = [value] if isinstance(value, str) else value
            if not isinstance(roles, list) or not roles:
                raise MetadataError(f"{where}: allowed_roles must be a non-empty list of roles")
            out[key] = tuple(sorted({_choice(r, ROLES, "allowed_roles", where) for r in roles}))
        elif key == "effective_date":
            out[key] = _date(value, where)
        else:
            if not isinstance(value, (str, int, float)):
                raise MetadataError(f"{where}: {key} must be text, not {type(value).__name__}")
            out[key] = str(value)
    return out


def front_matter_metadata(front_matter: dict[str, Any], where: str) -> dict[str, Any]:
    """techkb metadata from Markdown front matter, which other tools (Jekyll, Hugo) also use.

    Front matter with any techkb key besides `title` is techkb's: validated strictly, unknown
    keys are errors. Otherwise it belongs to another tool: its `title` is kept and the rest
    ignored, unless a key looks like a misspelt techkb key (`visibilty: org` must never turn a
    private document public).

    Raises:
        MetadataError: invalid techkb metadata or a near-miss key; names `where`.
    """
    import difflib

    keys = {str(k) for k in front_matter}
    if keys & (DOCUMENT_KEYS - {"title"}):
        return validate_document_keys(front_matter, where)
    for key in sorted(keys - DOCUMENT_KEYS):
        close = difflib.get_close_matches(key.lower(), sorted(DOCUMENT_KEYS), n=1, cutoff=0.8)
        if close:
            raise MetadataError(
                f"{where}: unknown metadata key {key!r}; did you mean {close[0]!r}?"
            )
    title = front_matter.get("title")
    return {"title": str(title)} if isinstance(title, (str, int, float)) and str(title) else {}


def _date(value: Any, where: str) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError as e:
        raise MetadataError(f"{where}: effective_date must be YYYY-MM-DD, not {value!r}") from e


def contributor_of(source: str, root_name: str) -> str:
    """The contributor id of a document: its top-level folder under the root."""
    parts = PurePosixPath(source).parts
    return parts[0] if len(parts) > 1 else root_name


def infer_kind(source: str, contributor_type: str) -> str:
    for folder in PurePosixPath(source).parts[:-1]:
        kind = _KIND_BY_FOLDER.get(folder.lower())
        if kind:
            return kind
    return "standard" if contributor_type == "standards_body" else "other"


def resolve_metadata(
    source: str,
    root_name: str,
    contributors: dict[str, Contributor],
    overrides: dict[str, Any],
    default_visibility: str,
) -> DocumentMeta:
    """Combine contributor defaults with a document's sidecar/front-matter overrides."""
    cid = contributor_of(source, root_name)
    declared = contributors.get(cid)
    ctype = declared.type if declared else "unknown"
    return DocumentMeta(
        contributor=cid,
        contributor_type=ctype,
        kind=overrides.get("kind") or infer_kind(source, ctype),
        visibility=overrides.get("visibility")
        or (declared.visibility if declared else default_visibility),
        license=overrides.get("license") or (declared.license if declared else DEFAULT_LICENSE),
        allowed_roles=tuple(overrides.get("allowed_roles", ())),
        edition=overrides.get("edition"),
        effective_date=overrides.get("effective_date"),
        language=overrides.get("language"),
        title=overrides.get("title"),
    )
