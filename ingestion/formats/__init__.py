"""Format readers for `ingestion.parse`: each turns one file's content into `Piece`s.

Modules: ``base`` (shared types, the unstructured glue), ``text`` (Markdown, plain text),
``html``, ``rst``, ``xml`` (CNXML and other XML), ``pdf``, ``office`` (DOCX, PPTX, XLSX).
Nothing heavy is imported here: unstructured loads only when a file is read.
"""
