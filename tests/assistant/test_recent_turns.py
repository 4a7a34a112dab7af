"""The assistant reads a bounded part of a conversation, whatever the caller sends."""

from __future__ import annotations

from assistant.service import READ_TURN_CHARS, READ_TURNS, recent_turns
from assistant.types import Turn


def test_only_the_last_turns_are_read_each_cut_to_a_bound() -> None:
    turns = [Turn("user" if i % 2 == 0 else "assistant", f"turn {i} " * 3) for i in range(10)]
    turns.append(Turn("user", "x" * 1_000_000))
    read = recent_turns(turns)
    assert len(read) == READ_TURNS
    assert read[-1].content == "x" * READ_TURN_CHARS and read[-1].role == "user"
    assert read[:-1] == turns[-READ_TURNS:-1]  # short turns are kept as they are
    assert recent_turns([]) == []
