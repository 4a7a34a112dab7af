"""Contributor handlers: documents, uploads, dashboard, ledger and the latest eval report.

Re-exported by `ui.handlers`; the same Services-and-Identity calling convention.
Who sees what here: staff/teacher of org X the documents, citations, ratings and knowledge gaps
of X; an admin those of every org; students and anonymous callers none of it. Within that, every
row and count passes the access rule: a document only if `can_see` admits its metadata (an
admin of org X does not see other orgs' org-private documents), a question, comment or upload
job only if `may_oversee` admits its asker's org, a citation count only for chunks the reader
may see. The eval report (`<home>/evals/latest/`) is shown to admins only, and only its
summary and plots: its items quote chunks of every visibility scope.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from assistant.access import can_see, may_oversee
from assistant.errors import AccessError, NotFoundError, ValidationError
from assistant.jobs import UPLOADS_ROOT_KEY
from assistant.types import Identity
from ui.services import Services

logger = logging.getLogger(__name__)
CONTRIBUTOR_ROLES = ("staff", "teacher", "admin")


def _contributor_org(identity: Identity) -> str | None:
    """The org whose documents `identity` manages; "*" for admin; None for nobody."""
    if identity.anonymous or identity.role not in CONTRIBUTOR_ROLES:
        return None
    return "*" if identity.role == "admin" else identity.org


def _document_rows(services: Services) -> list[dict[str, Any]]:
    """Every complete document with the metadata of its first chunk (store thread)."""
    # Uploads are keyed `uploads:` (the same on every worker); by their path before that.
    uploads = {UPLOADS_ROOT_KEY, str(services.uploads.root.resolve())}
    rows = []
    for doc in services.store.catalog.documents():
        if doc.status != "complete":
            continue
        chunks = services.store.catalog.document_chunks(doc.doc_id)
        if not chunks:
            continue
        first = chunks[0]
        rows.append(
            {
                "doc_id": doc.doc_id,
                "source": doc.source,
                "title": doc.title,
                "kind": first.kind,
                "visibility": first.visibility,
                "allowed_roles": list(first.allowed_roles),
                "edition": first.edition,
                "license": first.license,
                "chunks": doc.n_chunks,
                "contributor": doc.contributor,
                "uploaded": doc.root in uploads,
            }
        )
    return sorted(rows, key=lambda r: (r["contributor"], r["source"]))


def list_documents(services: Services, identity: Identity) -> list[dict[str, Any]]:
    """Documents the caller manages: own org's (staff/teacher), every org's (admin), none
    (others); of those, only the ones the caller may see (`can_see` on their metadata)."""
    org = _contributor_org(identity)
    if org is None:
        return []
    rows = services.call(_document_rows, services)
    return [r for r in rows if (org == "*" or r["contributor"] == org) and can_see(identity, r)]


def _target_org(identity: Identity, org: str | None) -> str:
    mine = _contributor_org(identity)
    if mine is None:
        raise AccessError("only staff, teachers and admins upload documents for their org")
    if mine == "*":
        target = org or identity.org
        if not target:
            raise ValidationError("org: an admin must say which org the document is for")
        return target
    if org not in (None, "", identity.org):
        raise AccessError(f"you may upload for {identity.org} only")
    return str(identity.org)


def start_upload(
    services: Services,
    identity: Identity,
    filename: str,
    data: bytes,
    *,
    kind: str,
    visibility: str,
    allowed_roles: list[str] | None = None,
    edition: str | None = None,
    license: str | None = None,
    org: str | None = None,
) -> str:
    """Store a document for the caller's org (admin: `org`) and queue its ingestion.

    Uploading a file name that exists replaces it. Returns the job id.

    Raises:
        AccessError: the caller may not upload (for that org).
        PayloadTooLargeError: over the upload size limit.
        ValidationError: unsafe name, unsupported or mismatching type, bad metadata.
    """
    from ui.uploads import safe_filename

    target = _target_org(identity, org)
    safe_filename(target)  # an org id is a folder name: same rules
    source = services.uploads.store(
        target,
        filename,
        data,
        kind=kind,
        visibility=visibility,
        allowed_roles=allowed_roles,
        edition=edition,
        license=license,
    )
    logger.info("upload %s by %s", source, identity.user)
    return services.uploads.submit(target, identity.user, source)


def _own_uploaded(services: Services, identity: Identity, doc_id: str) -> dict[str, Any]:
    for row in list_documents(services, identity):
        if row["doc_id"] == doc_id:
            if not row["uploaded"]:
                raise AccessError(
                    f"{row['source']} was ingested from a folder, not uploaded: change it there"
                )
            return row
    raise NotFoundError(f"no document {doc_id!r}")


def replace_document(
    services: Services,
    identity: Identity,
    doc_id: str,
    data: bytes,
    *,
    kind: str | None = None,
    visibility: str | None = None,
    allowed_roles: list[str] | None = None,
    edition: str | None = None,
    license: str | None = None,
) -> str:
    """Replace an uploaded document's content (metadata kept unless given); returns a job id.

    Raises:
        NotFoundError: no such document among the caller's own.
        AccessError: the document was not uploaded (it lives in an ingested folder).
    """
    row = _own_uploaded(services, identity, doc_id)
    org, name = row["source"].split("/", 1)
    return start_upload(
        services,
        identity,
        name,
        data,
        kind=kind or row["kind"],
        visibility=visibility or row["visibility"],
        allowed_roles=row["allowed_roles"] if allowed_roles is None else allowed_roles,
        edition=edition if edition is not None else row["edition"],
        license=license if license is not None else row["license"],
        org=org,
    )


def upload_status(services: Services, identity: Identity, job_id: str) -> dict[str, Any]:
    """Progress of an upload job the caller submitted or of the caller's org (`may_oversee`).

    Raises:
        NotFoundError: unknown job, or another org's.
    """
    job = services.uploads.job(job_id)
    mine = identity.user is not None and not identity.anonymous and job.user == identity.user
    if _contributor_org(identity) is None or not (mine or may_oversee(identity, job.org)):
        raise NotFoundError(f"no upload job {job_id!r}")
    return job.to_dict()


def delete_document(services: Services, identity: Identity, doc_id: str) -> None:
    """Delete an uploaded document: its file, and its chunks from every index at once.

    Raises:
        NotFoundError: no such document among the caller's own.
        AccessError: the document was not uploaded.
    """
    row = _own_uploaded(services, identity, doc_id)
    services.uploads.remove(row["source"])
    # Removed at once unless a sync of the uploads root is running (here or on another
    # worker): it could write the document back. The sync queued after it removes it then.
    with services.uploads.jobs.root_lock(UPLOADS_ROOT_KEY, timeout=10) as held:
        if held:
            services.call(services.store.remove_document, doc_id)
    org = row["source"].split("/", 1)[0]
    services.uploads.submit(org, identity.user, row["source"])
    logger.info("deleted %s by %s", row["source"], identity.user)


def ledger(services: Services, identity: Identity) -> list[dict[str, Any]]:
    """Citations and ratings per contributor: admin all, staff/teacher own org, others none;
    only citations of chunks the caller may see are counted."""
    org = _contributor_org(identity)
    if org is None:
        raise AccessError("the ledger is for contributors (staff, teachers) and admins")
    return services.feedback.ledger(None if org == "*" else {org}, reader=identity)


def latest_eval(home: Path) -> dict[str, Any] | None:
    """Summary and plot paths of `<home>/evals/latest/` (None when there is no report)."""
    folder = home / "evals" / "latest"
    try:
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    plots_dir = folder / "plots"
    plots = {
        p.stem: str(p)
        for p in sorted(plots_dir.glob("*.png"))
        if p.is_file() and not p.is_symlink() and not p.name.startswith(".")
    }
    return {"summary": report.get("summary") or {}, "plots": plots}


def dashboard(services: Services, identity: Identity) -> dict[str, Any]:
    """What a contributor (own org) or an admin (every org) sees of the knowledge base's use:
    documents it may see, and questions, ratings and gaps of entries it may read
    (`LoggedAnswer.readable_by`: askers of its own org; anonymous callers' for admins).

    Raises:
        AccessError: students and anonymous callers have no dashboard.
    """
    org = _contributor_org(identity)
    if org is None:
        raise AccessError("the dashboard is for contributors (staff, teachers) and admins")
    docs = list_documents(services, identity)
    answers = [a for a in services.feedback.answers() if a.readable_by(identity)]
    mine = (lambda name: True) if org == "*" else (lambda name: name == org)

    def cites_mine(a: Any) -> bool:
        return any(mine(str(c.get("contributor"))) for c in a.citations)

    rated = {a.answer_id: a for a in answers if a.ratings and cites_mine(a)}
    feedback = [
        {
            **r,
            "question": rated[r["answer_id"]].question,
            "contributors": [c for c in rated[r["answer_id"]].contributors if mine(c)],
        }
        for r in services.feedback.ratings_for(set(rated))
    ]
    gaps = []
    for a in answers:
        if not (a.refused or a.rating < 0):
            continue
        area = {str(h.get("contributor")) for h in a.retrieved} | set(a.contributors)
        if org == "*" or org in area:
            gaps.append({"question": a.question, "created": a.created, "refused": a.refused})
    return {
        "scope": "all" if org == "*" else org,
        "documents": {
            "by_contributor": dict(Counter(d["contributor"] for d in docs)),
            "by_kind": dict(Counter(d["kind"] for d in docs)),
            "by_visibility": dict(Counter(d["visibility"] for d in docs)),
        },
        "chunks_by_contributor": dict(
            sum((Counter({d["contributor"]: d["chunks"]}) for d in docs), Counter())
        ),
        "ledger": ledger(services, identity),
        "feedback": feedback,
        "gaps": sorted(gaps, key=lambda g: -g["created"]),
        "eval": latest_eval(services.settings.paths.home) if org == "*" else None,
    }
