"""Query a store in a loop until a stop file appears; for the concurrency tests.

    python -m tests.reliability.query_driver HOME STOP_FILE OUT_JSON

Keyword, dense (both indexes) and full assistant queries, as staff of huaxin-robotics, with the
hash embedders of `crash_driver` (the store under test is built with them). Every exception is
recorded; OUT_JSON gets the counts and the errors.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

from tests.reliability.crash_driver import embedders


def main(argv: list[str]) -> int:
    from assistant.answer.extractive import ExtractiveAnswerer
    from assistant.retrieve import HybridRetriever
    from assistant.service import Assistant
    from assistant.settings import load_settings
    from assistant.store import KnowledgeStore
    from assistant.types import Identity

    home, stop, out = Path(argv[0]), Path(argv[1]), Path(argv[2])
    dense, ml = embedders()
    settings = load_settings({"paths": {"home": home}}, environ={})
    who = Identity("wang", "huaxin-robotics", "staff")
    queries = ["How is the J4 harmonic drive regreased?", "guideway wipers replacement interval"]
    counts = {"queries": 0, "hits": 0}
    errors: list[str] = []
    store = KnowledgeStore(home)
    retriever = HybridRetriever(store, dense, settings.retrieval, multilingual=ml)
    assistant = Assistant(retriever, ExtractiveAnswerer(embed=dense.embed_documents))

    def query(q: str, errors: list[str]) -> None:
        try:
            counts["hits"] += len(store.keyword_search(q, who, 10, None))
            counts["hits"] += len(store.dense_search(dense.embed_query(q), who, 10))
            counts["hits"] += len(store.dense_search(ml.embed_query(q), who, 10, multilingual=True))
            counts["hits"] += len(assistant.ask(q, identity=who).retrieved)
        except Exception:  # every failure is what this driver reports
            errors.append(traceback.format_exc(limit=6))

    deadline = time.monotonic() + 240
    while not stop.exists() and time.monotonic() < deadline:
        for q in queries:
            query(q, errors)
            counts["queries"] += 1
    after: list[str] = []  # the writers are done: does this long-lived reader recover?
    for q in queries:
        query(q, after)
    store.close()
    out.write_text(json.dumps({**counts, "errors": errors, "errors_after": after}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
