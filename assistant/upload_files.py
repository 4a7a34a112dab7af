"""Uploaded documents in the jobs database: bytes, sidecar metadata and the uploading org's
`contributors.yaml` entry, so that a worker on any host can `materialise` the uploads root in its
own home (no shared disk) before it syncs that root.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from assistant.db import Database

UPLOADS_DIR = "uploads"
SIDECAR_SUFFIX = ".meta.yaml"
CONTRIBUTORS_FILE = "contributors.yaml"
# A marker in a home's uploads folder: its files from before uploads lived in the database
# have been copied in (hidden: ingestion and `materialise` skip it).
_ADOPTED = ".in-database"
_MARKER = b"this folder is a copy of the uploads in the jobs database (assistant/upload_files.py)\n"
# Seconds since the epoch by the database's clock.
_NOW = {
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
    "postgresql": "EXTRACT(EPOCH FROM clock_timestamp())",
}


class UploadedFiles:
    """The uploaded files of one store (tables `uploaded_files`, `upload_orgs` of the jobs
    component, `assistant.jobs.COMPONENT`)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._now = _NOW[db.dialect]
        # One thread of this process writes a home's uploads folder at a time.
        self._local = threading.Lock()

    def put_file(
        self, source: str, content: bytes, sidecar: str, org_entry: dict[str, Any]
    ) -> None:
        """Keep (or replace) an uploaded file with its sidecar; declare its org once."""
        org = source.split("/", 1)[0]
        with self.db.write() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO upload_orgs(org, entry, declared) VALUES (:org, :entry, "
                    f"{self._now}) ON CONFLICT (org) DO NOTHING"
                ),
                {"org": org, "entry": json.dumps(org_entry, ensure_ascii=False)},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO uploaded_files(source, org, content, sidecar, sha256, updated) "
                    f"VALUES (:source, :org, :content, :sidecar, :sha, {self._now}) "
                    "ON CONFLICT (source) DO UPDATE SET content=excluded.content, "
                    "sidecar=excluded.sidecar, sha256=excluded.sha256, updated=excluded.updated"
                ),
                {
                    "source": source,
                    "org": org,
                    "content": content,
                    "sidecar": sidecar,
                    "sha": hashlib.sha256(content).hexdigest(),
                },
            )

    def remove_file(self, source: str) -> bool:
        """Forget an uploaded file; False when there was none."""
        with self.db.write() as conn:
            gone = conn.execute(
                sa.text("DELETE FROM uploaded_files WHERE source=:s RETURNING source"),
                {"s": source},
            ).first()
        return gone is not None

    def has_file(self, source: str) -> bool:
        with self.db.read() as conn:
            row = conn.execute(
                sa.text("SELECT 1 FROM uploaded_files WHERE source=:s"), {"s": source}
            ).first()
        return row is not None

    def org_entries(self) -> list[dict[str, Any]]:
        """The `contributors.yaml` entries of the orgs that uploaded, in the order they came."""
        with self.db.read() as conn:
            rows = conn.execute(sa.text("SELECT entry FROM upload_orgs ORDER BY declared, org"))
            return [json.loads(entry) for (entry,) in rows]

    def materialise(self, root: Path) -> int:
        """Make `root` (a home's uploads folder) hold exactly the uploaded files: new and
        changed ones written atomically, ones no longer uploaded deleted. Returns how many
        files it wrote or deleted."""
        with self._local:
            return self._materialise(root)

    def _materialise(self, root: Path) -> int:
        root.mkdir(parents=True, exist_ok=True)
        if not (root / _ADOPTED).exists():
            atomic_write(root / _ADOPTED, _MARKER)
        with self.db.read() as conn:
            rows = conn.execute(sa.text("SELECT source, sha256, sidecar FROM uploaded_files"))
            wanted = {str(s): (str(sha), str(side)) for s, sha, side in rows}
        changes = 0
        for source, (sha, sidecar) in wanted.items():
            org, name = source.split("/", 1)
            folder = root / org
            folder.mkdir(exist_ok=True)
            path = folder / name
            if not path.is_file() or _sha256(path) != sha:
                with self.db.read() as conn:
                    content = conn.execute(
                        sa.text("SELECT content FROM uploaded_files WHERE source=:s"),
                        {"s": source},
                    ).scalar()
                if content is None:  # removed since the listing
                    continue
                atomic_write(path, bytes(content))
                changes += 1
            side = path.with_name(name + SIDECAR_SUFFIX)
            if not side.is_file() or side.read_text(encoding="utf-8") != sidecar:
                atomic_write(side, sidecar.encode("utf-8"))
        entries = self.org_entries()
        if entries:
            text = contributors_yaml(entries)
            path = root / CONTRIBUTORS_FILE
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                atomic_write(path, text.encode("utf-8"))
        for folder in [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]:
            for path in folder.iterdir():
                if path.name.startswith(".") or not path.is_file():
                    continue
                name = path.name.removesuffix(SIDECAR_SUFFIX)
                if f"{folder.name}/{name}" not in wanted:
                    path.unlink(missing_ok=True)
                    changes += path.name == name
        return changes

    def adopt(self, root: Path) -> int:
        """Copy the uploads a home kept on disk before they lived in the database (once per
        home: a hidden marker says it was done). Returns how many files it copied."""
        marker = root / _ADOPTED
        if marker.exists():
            return 0
        root.mkdir(parents=True, exist_ok=True)
        entries: dict[str, dict[str, Any]] = {}
        declared = root / CONTRIBUTORS_FILE
        if declared.is_file():
            data = yaml.safe_load(declared.read_text(encoding="utf-8")) or {}
            entries = {str(e.get("id")): e for e in data.get("contributors") or []}
        copied = 0
        for folder in sorted(
            p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
        ):
            for path in sorted(folder.iterdir()):
                if path.name.startswith(".") or path.name.endswith(SIDECAR_SUFFIX):
                    continue
                if not path.is_file():
                    continue
                source = f"{folder.name}/{path.name}"
                if self.has_file(source):
                    continue
                side = path.with_name(path.name + SIDECAR_SUFFIX)
                sidecar = side.read_text(encoding="utf-8") if side.is_file() else ""
                entry = entries.get(folder.name) or {
                    "id": folder.name,
                    "name": folder.name,
                    "type": "unknown",
                    "visibility": "org",
                }
                self.put_file(source, path.read_bytes(), sidecar, entry)
                copied += 1
        atomic_write(marker, _MARKER)
        return copied


def contributors_yaml(entries: list[dict[str, Any]]) -> str:
    """The uploads root's `contributors.yaml` for these org entries."""
    text = "# Orgs that uploaded documents through techkb serve.\n"
    return text + yaml.safe_dump({"contributors": entries}, sort_keys=False, allow_unicode=True)


def atomic_write(path: Path, data: bytes) -> None:
    """Write through a hidden temp file (ingestion skips hidden files) and rename."""
    fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
