"""Homes written before the data-access layer open unchanged: the feedback and conversation
files keep their names and tables, and what was in them reads back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from assistant.conversations import CONVERSATIONS_FILE, ConversationStore
from assistant.feedback import FEEDBACK_FILE, FeedbackStore
from assistant.types import Identity

ALICE = Identity("alice", "northlake-college", "student")

# The schemas as the raw-sqlite3 stores created them.
OLD_FEEDBACK = """
CREATE TABLE answers (answer_id TEXT PRIMARY KEY, created REAL NOT NULL,
    user TEXT, org TEXT, role TEXT, question TEXT NOT NULL, history TEXT NOT NULL DEFAULT '[]',
    mode TEXT NOT NULL, answer TEXT NOT NULL, refused INTEGER NOT NULL, citations TEXT NOT NULL,
    retrieved TEXT NOT NULL DEFAULT '[]');
CREATE TABLE ratings (answer_id TEXT NOT NULL REFERENCES answers(answer_id),
    rater TEXT NOT NULL, created REAL NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)), comment TEXT NOT NULL DEFAULT '',
    user TEXT, org TEXT, role TEXT, PRIMARY KEY (answer_id, rater));
CREATE INDEX answers_created ON answers(created);
INSERT INTO answers VALUES ('old1', 1.0, 'alice', 'northlake-college', 'student', 'q', '[]',
    'ask', 'A [1].', 0, '[{"n": 1, "contributor": "a", "visibility": "public"}]', '[]');
INSERT INTO ratings VALUES ('old1', 'alice', 2.0, 1, 'good', 'alice', 'northlake-college',
    'student');
"""
OLD_CONVERSATIONS = """
CREATE TABLE conversations (conversation_id TEXT PRIMARY KEY, owner TEXT NOT NULL,
    title TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE turns (conversation_id TEXT NOT NULL
    REFERENCES conversations(conversation_id) ON DELETE CASCADE, position INTEGER NOT NULL,
    created REAL NOT NULL, question TEXT NOT NULL, mode TEXT NOT NULL, result TEXT NOT NULL,
    PRIMARY KEY (conversation_id, position));
CREATE TABLE preferences (owner TEXT PRIMARY KEY, language TEXT NOT NULL);
CREATE INDEX conversations_owner ON conversations(owner, updated);
INSERT INTO conversations VALUES ('c1', 'alice', 'q', 1.0, 1.0);
INSERT INTO turns VALUES ('c1', 0, 1.0, 'q', 'ask', '{"answer": "A", "citations": []}');
INSERT INTO preferences VALUES ('alice', 'zh');
"""


def test_an_existing_home_opens_and_reads_back(tmp_path: Path) -> None:
    for name, script in ((FEEDBACK_FILE, OLD_FEEDBACK), (CONVERSATIONS_FILE, OLD_CONVERSATIONS)):
        with sqlite3.connect(tmp_path / name) as db:
            db.executescript(script)
    feedback = FeedbackStore(tmp_path)
    (old,) = feedback.answers()
    assert (old.answer_id, old.identity, old.rating, old.comments) == ("old1", ALICE, 1, ["good"])
    feedback.rate("old1", ALICE, -1)
    assert feedback.answers()[0].rating == -1

    conversations = ConversationStore(tmp_path)
    assert conversations.language(ALICE) == "zh"
    assert conversations.add_turn(ALICE, "c1", "q2", "ask", {"answer": "B"}) == "c1"
    assert [t.question for t in conversations.get(ALICE, "c1").turns] == ["q", "q2"]
    assert sorted(p.name for p in tmp_path.glob("*.sqlite3")) == sorted(
        [FEEDBACK_FILE, CONVERSATIONS_FILE]
    )
