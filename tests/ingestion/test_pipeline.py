"""Ingest behaviour a user sees: sync semantics, bad input, metadata, crash repair."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from assistant.errors import StoreError
from assistant.settings import load_settings
from assistant.store import KnowledgeStore
from assistant.types import ANONYMOUS, Identity
from ingestion.pipeline import Ingester, IngestReport
from tests.conftest import CORPORA, OPEN_CORPUS

REQUIRED_FIELDS = (
    "doc_id",
    "source",
    "title",
    "section",
    "chunk_index",
    "content_sha256",
    "contributor",
    "contributor_type",
    "kind",
    "visibility",
    "license",
)


class CountingEmbedder:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.embedded = 0

    def embed_documents(self, texts: Any) -> Any:
        self.embedded += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> Any:
        return self.inner.embed_query(text)

    def count_tokens(self, text: str) -> int:
        return int(self.inner.count_tokens(text))


def _ingest(home: Path, roots: list[Path], embedder: Any, **ingestion: Any) -> IngestReport:
    settings = load_settings({"paths": {"home": home}, "ingestion": ingestion}, environ={})
    store = KnowledgeStore(home)
    try:
        return Ingester(store, embedder, settings.ingestion, progress=False).ingest(roots)
    finally:
        store.close()


def _all_chunks(home: Path) -> dict[str, Any]:
    store = KnowledgeStore(home)
    try:
        return {c.chunk_id: c for _, c in store.catalog.iter_chunks()}
    finally:
        store.close()


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _small_root(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    _write(
        root / "contributors.yaml",
        "contributors:\n  - id: acme\n    name: Acme Robotics\n    type: enterprise\n"
        "    chain_position: upstream\n    visibility: consortium\n    license: internal\n",
    )
    _write(
        root / "acme/procedures/grease.md",
        "---\ntitle: Axis 2 grease change\nkind: procedure\nedition: '2024'\n---\n"
        "# Axis 2 grease change\n\n## Steps\n\n1. Switch off and lock out the controller.\n"
        "2. Remove the drain plug and the supply plug.\n3. Inject 560 ml of VIGO RE0 grease.\n",
    )
    _write(
        root / "acme/cases/overheat.md",
        "# Spindle overheating case\n\n## Symptom\n\nThe spindle housing reached 72 °C after "
        "40 minutes at 8000 rpm.\n\n## Root cause\n\nThe bearing preload spacer was ground "
        "0.02 mm too short.\n",
    )
    _write(
        root / "school/courses/zh.md",
        "---\ntitle: 数控机床主轴维护\nkind: course\nlanguage: zh\n---\n# 数控机床主轴维护\n\n"
        "## 学习目标\n\n掌握主轴轴承预紧力的检查方法。主轴温升不得超过环境温度加二十五摄氏度。\n",
    )
    return root


def test_demo_corpus_every_chunk_carries_metadata(demo_store_home: Path) -> None:
    chunks = _all_chunks(demo_store_home)
    assert len(chunks) >= 300
    contributors = {c.contributor for c in chunks.values()}
    assert len(contributors) >= 5
    for chunk in chunks.values():
        meta = chunk.to_metadata()
        missing = [f for f in REQUIRED_FIELDS if meta.get(f) in (None, "") and f != "section"]
        assert not missing, (chunk.source, missing)
        assert chunk.visibility in ("public", "consortium", "org")
        assert chunk.kind in ("standard", "procedure", "case", "course", "other")
    assert {c.visibility for c in chunks.values()} >= {"public", "consortium", "org"}
    assert any(c.allowed_roles == ("teacher",) for c in chunks.values())
    assert any(c.language == "zh" for c in chunks.values())
    assert any(c.page for c in chunks.values()), "paged formats keep page numbers"


def test_reingest_embeds_nothing_and_edits_and_removals_propagate(
    tmp_path: Path, embedder: Any
) -> None:
    root = _small_root(tmp_path)
    home = tmp_path / "store"
    first = _ingest(home, [root], embedder)
    assert (first.added, first.failed) == (3, [])
    counting = CountingEmbedder(embedder)
    again = _ingest(home, [root], counting)
    assert (again.unchanged, again.added, again.updated, counting.embedded) == (3, 0, 0, 0)

    _write(
        root / "acme/cases/overheat.md",
        "# Spindle overheating case\n\n## Root cause\n\nA clogged chiller filter cut coolant flow.",
    )
    (root / "acme/procedures/grease.md").unlink()
    third = _ingest(home, [root], counting)
    assert (third.updated, third.removed, third.unchanged) == (1, 1, 1)
    chunks = _all_chunks(home)
    texts = " ".join(c.text for c in chunks.values())
    assert "chiller filter" in texts and "preload spacer" not in texts
    assert not any(c.source.endswith("grease.md") for c in chunks.values())

    store = KnowledgeStore(home)
    try:
        staff = Identity("u", "acme", "staff")
        assert store.keyword_search("preload spacer", staff, 5, None) == []
        assert store.keyword_search("grease VIGO", staff, 5, None) == []
        hits = store.keyword_search("chiller filter", staff, 5, None)
        assert hits and chunks[hits[0].chunk_id].source == "acme/cases/overheat.md"
        assert store.vectors.count() == len(chunks)
    finally:
        store.close()


def test_chinese_text_is_chunked_and_found_by_keyword(tmp_path: Path, embedder: Any) -> None:
    root = _small_root(tmp_path)
    home = tmp_path / "store"
    _ingest(home, [root], embedder)
    store = KnowledgeStore(home)
    try:
        hits = store.keyword_search("主轴轴承预紧力", ANONYMOUS, 3, None)
        assert hits
        top = store.catalog.get_chunks([hits[0].chunk_id])[hits[0].chunk_id]
        assert top.source == "school/courses/zh.md" and top.language == "zh"
    finally:
        store.close()


def test_consortium_documents_invisible_to_anonymous(tmp_path: Path, embedder: Any) -> None:
    root = _small_root(tmp_path)
    home = tmp_path / "store"
    _ingest(home, [root], embedder)
    store = KnowledgeStore(home)
    try:
        assert store.keyword_search("VIGO grease", ANONYMOUS, 5, None) == []
        vec = embedder.embed_query("grease for axis 2")
        dense = store.dense_search(vec, ANONYMOUS, 10)
        assert dense, "the public Chinese course module is visible"
        assert all(m.metadata["visibility"] == "public" for m in dense)
        assert store.keyword_search(
            "VIGO grease", Identity("s", "other-school", "student"), 5, None
        )
    finally:
        store.close()


def _bad_files(root: Path) -> dict[str, str]:
    """Write one file of each bad kind; return source -> a word its error must contain."""
    from reportlab.pdfgen import canvas

    bad = root / "acme/bad"
    bad.mkdir(parents=True)
    (bad / "truncated.pdf").write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog")
    good_pdf = bad / "encrypted-src.pdf"
    c = canvas.Canvas(str(good_pdf))
    c.drawString(72, 720, "Secret torque table")
    c.save()
    import pikepdf

    with pikepdf.open(good_pdf) as pdf:
        pdf.save(bad / "encrypted.pdf", encryption=pikepdf.Encryption(owner="o", user="u"))
    good_pdf.unlink()
    empty = canvas.Canvas(str(bad / "blank.pdf"))
    empty.showPage()
    empty.save()
    (bad / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    (bad / "tool.exe").write_bytes(b"MZ\x90\x00" + b"\x00" * 200)
    with (
        zipfile.ZipFile(bad / "bomb.docx", "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("word/document.xml", "w") as fh,
    ):
        for _ in range(300):
            fh.write(b"\x00" * (1 << 20))
    (bad / "huge.txt").write_bytes(b"a" * (3 * 1024 * 1024))
    outside = root.parent / "outside-secret.md"
    outside.write_text("# Secret\n\nNot part of the knowledge base.\n")
    (bad / "link.md").symlink_to(outside)
    (bad / "empty.md").write_bytes(b"")
    return {
        "acme/bad/truncated.pdf": "pdf",
        "acme/bad/encrypted.pdf": "encrypt",
        "acme/bad/blank.pdf": "text",
        "acme/bad/image.md": "binary",
        "acme/bad/tool.exe": "unsupported",
        "acme/bad/bomb.docx": "zip",
        "acme/bad/huge.txt": "limit",
        "acme/bad/link.md": "outside",
        "acme/bad/empty.md": "empty",
    }


def test_bad_input_is_reported_and_the_rest_ingested(tmp_path: Path, embedder: Any) -> None:
    root = _small_root(tmp_path)
    home = tmp_path / "store"
    first = _ingest(home, [root], embedder, max_file_mb=2)
    before = _all_chunks(home)
    # A good file turns bad: its stored version must survive.
    (root / "acme/cases/overheat.md").write_bytes(b"\x00\x01\x02binary now\xff\xfe" * 100)
    expected = _bad_files(root)
    report = _ingest(home, [root], embedder, max_file_mb=2)
    failed = {f["source"]: f["error"].lower() for f in report.failed}
    for source, word in expected.items():
        assert source in failed, (source, failed)
        assert word in failed[source], (source, failed[source])
    assert "acme/cases/overheat.md" in failed
    after = _all_chunks(home)
    assert set(after) == set(before), "nothing already stored is lost"
    assert first.failed == []
    assert report.unchanged == 2


def test_cli_json_contract_and_exit_status(tmp_path: Path) -> None:
    root = _small_root(tmp_path)
    (root / "acme/broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    env = {**os.environ, "TECHKB_HOME": str(tmp_path / "home")}
    cmd = [str(Path(sys.executable).with_name("techkb")), "ingest", str(root), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 3, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) >= {"added", "updated", "unchanged", "removed", "failed", "chunks", "seconds"}
    assert out["added"] == 3 and out["chunks"] > 0
    assert out["failed"][0]["source"] == "acme/broken.pdf" and out["failed"][0]["error"]
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert json.loads(again.stdout)["unchanged"] == 3


def test_invalid_sidecar_names_the_file(tmp_path: Path, embedder: Any) -> None:
    root = _small_root(tmp_path)
    _write(root / "acme/cases/overheat.md.meta.yaml", "kind: case\ncolour: blue\n")
    report = _ingest(tmp_path / "store", [root], embedder)
    [failure] = report.failed
    assert failure["source"] == "acme/cases/overheat.md"
    assert "overheat.md.meta.yaml" in failure["error"] and "colour" in failure["error"]


def test_embedder_mismatch_is_refused(tmp_path: Path, embedder: Any) -> None:
    root = _small_root(tmp_path)
    home = tmp_path / "store"
    _ingest(home, [root], embedder)
    other = CountingEmbedder(embedder)
    other.name = "some-other-model"
    with pytest.raises(StoreError, match="embedder"):
        _ingest(home, [root], other)


def test_interrupted_write_is_repaired_on_next_run(
    tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _small_root(tmp_path)
    clean_home = tmp_path / "clean"
    _ingest(clean_home, [root], embedder)
    clean = _all_chunks(clean_home)

    home = tmp_path / "crashy"
    from assistant.store.catalog import Catalog

    real_commit = Catalog.commit_document
    calls = {"n": 0}

    def crash_on_second(self: Catalog, *args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("simulated kill between the vector write and the commit")
        real_commit(self, *args, **kwargs)

    monkeypatch.setattr(Catalog, "commit_document", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        _ingest(home, [root], embedder)
    monkeypatch.setattr(Catalog, "commit_document", real_commit)
    _ingest(home, [root], embedder)
    repaired = _all_chunks(home)
    assert set(repaired) == set(clean)
    store = KnowledgeStore(home)
    try:
        assert store.vectors.count() == len(clean), "no orphan or duplicate vectors"
    finally:
        store.close()


def test_kill_during_ingest_then_rerun_equals_clean(tmp_path: Path, embedder: Any) -> None:
    root = tmp_path / "many"
    for i in range(40):
        _write(
            root / f"college/notes/note-{i:02d}.md",
            f"# Note {i}\n\n## Topic\n\nBall screw {i} backlash measured at 0.0{i % 9} mm.\n",
        )
    home = tmp_path / "store"
    env = {**os.environ, "TECHKB_HOME": str(home)}
    cmd = [str(Path(sys.executable).with_name("techkb")), "ingest", str(root), "--json"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import sqlite3
    import time

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        db = home / "catalog.sqlite3"
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as con:
                    n = con.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            except sqlite3.Error:
                n = 0
            if n >= 5:
                break
        time.sleep(0.05)
    proc.kill()
    proc.wait(30)
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    clean_home = tmp_path / "clean"
    _ingest(clean_home, [root], embedder)
    assert set(_all_chunks(home)) == set(_all_chunks(clean_home))
    store = KnowledgeStore(home)
    try:
        assert store.vectors.count() == len(_all_chunks(clean_home))
    finally:
        store.close()


def test_no_network_during_ingest(tmp_path: Path) -> None:
    """Every process of an ingest (the CLI and its parse worker) runs with sockets refused."""
    guard = tmp_path / "guard"
    guard.mkdir()
    log = tmp_path / "attempts.log"
    (guard / "sitecustomize.py").write_text(
        "import socket, os\n"
        f"LOG = {str(log)!r}\n"
        "def _deny(self, address, *a, **k):\n"
        "    local = ('127.0.0.1', '::1', 'localhost')\n"
        "    if isinstance(address, tuple) and address[0] not in local:\n"
        "        open(LOG, 'a').write(repr(address) + '\\n')\n"
        "        raise OSError('network blocked by test')\n"
        "    return _real(self, address, *a, **k)\n"
        "_real = socket.socket.connect\n"
        "socket.socket.connect = _deny\n"
    )
    root = _small_root(tmp_path)
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(root / "acme/manual.pdf"))
    pdf.drawString(72, 720, "1 Scope")
    pdf.drawString(72, 700, "This manual covers the lubrication of the axis 3 reducer.")
    pdf.save()
    env = {
        **os.environ,
        "PYTHONPATH": str(guard),
        "TECHKB_HOME": str(tmp_path / "home"),
    }
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        env.pop(name, None)  # techkb must set these itself
    cmd = [str(Path(sys.executable).with_name("techkb")), "ingest", str(root), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["added"] == 4
    assert not log.exists(), log.read_text()


@pytest.mark.slow
@pytest.mark.skipif(not OPEN_CORPUS.is_dir(), reason="open corpus not present")
def test_open_corpus_ingests_with_zero_failures(tmp_path: Path, embedder: Any) -> None:
    report = _ingest(tmp_path / "store", [OPEN_CORPUS], embedder)
    assert report.failed == []
    chunks = _all_chunks(tmp_path / "store")
    assert len(chunks) > 500
    for chunk in chunks.values():
        if chunk.source.endswith((".rst", ".cnxml")):
            for token in (".. ", ":ref:", "<para", "<title", "====", "::\n"):
                assert token not in chunk.text, (chunk.source, token, chunk.text[:200])


def test_demo_corpus_dir_exists() -> None:
    assert (CORPORA / "contributors.yaml").is_file()
