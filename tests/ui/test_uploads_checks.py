"""Upload checks that need no store: names, types by extension and content, size, metadata."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from assistant.errors import NotFoundError, PayloadTooLargeError, ValidationError
from ui.uploads import UploadManager, safe_filename, sniff

SUPPORTED = {".md", ".txt", ".pdf", ".docx", ".pptx", ".xlsx", ".html", ""}


def _zip(*names: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in names:
            zf.writestr(name, "<x/>")
    return buf.getvalue()


@pytest.mark.parametrize(
    "name",
    ["../x.md", "a/b.md", "..\\x.md", ".hidden.md", "..", "", "x.md.meta.yaml", "a\x00.md"],
)
def test_unsafe_names_rejected(name: str) -> None:
    with pytest.raises(ValidationError):
        safe_filename(name)


def test_safe_name_kept() -> None:
    assert safe_filename("Coolant check (rev 2).md") == "Coolant check (rev 2).md"


def test_sniff_accepts_matching_content() -> None:
    sniff("a.md", "# 标题\n\ntext".encode(), SUPPORTED)
    sniff("a.pdf", b"%PDF-1.7\n...", SUPPORTED)
    sniff("a.docx", _zip("[Content_Types].xml", "word/document.xml"), SUPPORTED)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("a.exe", b"MZ\x90\x00"),
        ("a", b"plain text without a suffix"),
        ("a.pdf", b"not a pdf at all"),
        ("a.docx", b"PK but not a zip"),
        ("a.docx", _zip("[Content_Types].xml", "xl/workbook.xml")),
        ("a.md", b"\xff\xfe\x00b\x00i\x00n"),
        ("a.md", b"text\x00with nul"),
        ("a.md", b""),
    ],
)
def test_sniff_rejects(name: str, data: bytes) -> None:
    with pytest.raises(ValidationError):
        sniff(name, data, SUPPORTED)


def _manager(tmp_path: Path) -> UploadManager:
    return UploadManager(
        tmp_path, lambda root, **_: {"failed": []}, max_bytes=1000, supported=SUPPORTED
    )


def test_store_writes_file_sidecar_and_contributors(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    source = m.store(
        "northlake-college",
        "notes.md",
        b"# Notes\n\nsome text",
        kind="course",
        visibility="org",
        allowed_roles=["teacher"],
        edition="2025",
    )
    assert source == "northlake-college/notes.md"
    folder = tmp_path / "uploads" / "northlake-college"
    assert (folder / "notes.md").read_bytes().startswith(b"# Notes")
    sidecar = (folder / "notes.md.meta.yaml").read_text()
    assert "visibility: org" in sidecar and "teacher" in sidecar and "2025" in sidecar
    assert "id: northlake-college" in (tmp_path / "uploads" / "contributors.yaml").read_text()
    m.remove(source)
    assert not (folder / "notes.md").exists() and not (folder / "notes.md.meta.yaml").exists()


def test_store_rejects_size_and_metadata(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    with pytest.raises(PayloadTooLargeError):
        m.store("o", "big.md", b"x" * 1001, kind="other", visibility="org")
    with pytest.raises(ValidationError):
        m.store("o", "a.md", b"text", kind="novel", visibility="org")
    with pytest.raises(ValidationError):
        m.store("o", "a.md", b"text", kind="other", visibility="secret")
    with pytest.raises(ValidationError):
        m.store("o", "a.md", b"text", kind="other", visibility="org", allowed_roles=["dean"])
    assert not (tmp_path / "uploads" / "o" / "a.md").exists()


@pytest.mark.parametrize("source", ["../etc/passwd", "o/../../x", "o/.hidden", "o", "a/b/c"])
def test_path_of_refuses_traversal(tmp_path: Path, source: str) -> None:
    with pytest.raises(NotFoundError):
        _manager(tmp_path).path_of(source)


def test_job_reports_per_file_errors(tmp_path: Path) -> None:
    def ingest(root: Path, **_: object) -> dict[str, object]:
        return {"failed": [{"source": "o/a.md", "error": "no text found"}], "added": 0}

    m = UploadManager(tmp_path, ingest, max_bytes=1000, supported=SUPPORTED)
    job = m.wait(m.submit("o", "u", "o/a.md"), timeout=10)
    assert job.state == "failed" and job.errors == [{"source": "o/a.md", "error": "no text found"}]
    ok = m.wait(m.submit("o", "u", "o/b.md"), timeout=10)
    assert ok.state == "done" and ok.progress == 1.0
    m.close()


def test_an_upload_without_a_licence_gets_its_orgs_default(tmp_path: Path) -> None:
    def describe(org: str) -> dict[str, str]:
        return {"name": org, "type": "school", "license": "CC-BY-4.0"}

    m = UploadManager(
        tmp_path, lambda root, **_: {"failed": []}, max_bytes=1000, supported=SUPPORTED,
        describe_org=describe,
    )  # fmt: skip
    folder = tmp_path / "uploads" / "northlake-college"
    m.store("northlake-college", "a.md", b"# A\n\ntext", kind="course", visibility="org")
    assert "license: CC-BY-4.0" in (folder / "a.md.meta.yaml").read_text()
    m.store("northlake-college", "b.md", b"# B\n\ntext", kind="course", visibility="org",
            license="LicenseRef-Own")  # fmt: skip
    assert "license: LicenseRef-Own" in (folder / "b.md.meta.yaml").read_text()
