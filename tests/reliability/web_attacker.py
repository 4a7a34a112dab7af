"""An attacker's view of a running `techkb serve`: real HTTP on 127.0.0.1, nothing imported from
the server side. Starts the server as a subprocess, signs in through the sign-in page, reads
Gradio's `/config` to discover every event (dependency) and its input components, and fires
each event through Gradio's queue (`/gradio_api/queue/join` + `/gradio_api/queue/data`) with
`FileData` payloads that name server paths.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

import httpx

FILE_URL = re.compile(r"/gradio_api/file=[^\"'\s)<>\\]+")
EVENT_TIMEOUT_S = 30.0


def sign_in(url: str, user: str | None, password: str) -> httpx.Client:
    """An HTTP client holding the session cookie of `user` (None: signed out)."""
    client = httpx.Client(base_url=url, timeout=60)
    if user is not None:
        r = client.post("/login", data={"username": user, "password": password})
        # techkb's page answers 303; Gradio's own sign-in (before issue 13) answered 200.
        assert r.status_code in (200, 303) and client.cookies, (user, r.status_code, r.text[:300])
    return client


def file_data(path: Path | str) -> dict[str, Any]:
    """A Gradio FileData value naming a path on the server."""
    return {"path": str(path), "orig_name": Path(path).name, "meta": {"_type": "gradio.FileData"}}


def value_for(component: dict[str, Any], path: Path | str, shape: str) -> Any:
    """What to put in one input slot: shaped as the component takes files ("typed"), or
    a bare FileData whatever the component ("bare")."""
    fd = file_data(path)
    if shape == "bare":
        return fd
    kind = component.get("type", "")
    props = component.get("props", {})
    if kind == "chatbot":
        return [{"role": "user", "content": [fd]}, {"role": "user", "content": fd}]
    if kind in ("file", "uploadbutton", "downloadbutton"):
        return [fd] if props.get("file_count") in ("multiple", "directory") else fd
    if kind in ("state",):
        return None
    if kind in ("multimodaltextbox",):
        return {"text": "x", "files": [fd]}
    if kind in ("radio", "dropdown") and props.get("choices"):
        choice = props["choices"][-1]
        return choice[1] if isinstance(choice, list | tuple) else choice
    if kind == "checkboxgroup":
        return []
    return fd


def dependencies(client: httpx.Client) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:
    """Every event of the page (from /config) and the components by id."""
    r = client.get("/config")
    r.raise_for_status()
    config = r.json()
    components = {c["id"]: c for c in config.get("components", [])}
    return list(config.get("dependencies", [])), components


def fire(client: httpx.Client, dep: dict[str, Any], data: list[Any]) -> str:
    """Run one event through Gradio's queue; returns everything the server sent back."""
    session = secrets.token_hex(8)
    targets = dep.get("targets") or [[None]]
    trigger = targets[0][0] if targets and isinstance(targets[0], list | tuple) else None
    body = {
        "data": data,
        "fn_index": dep["id"],
        "trigger_id": trigger,
        "session_hash": session,
        "event_data": None,
    }
    r = client.post("/gradio_api/queue/join", json=body)
    out = [f"join {r.status_code} {r.text}"]
    if r.status_code != 200:
        return "\n".join(out)
    deadline = time.monotonic() + EVENT_TIMEOUT_S
    with client.stream(
        "GET", "/gradio_api/queue/data", params={"session_hash": session}, timeout=EVENT_TIMEOUT_S
    ) as stream:
        for line in stream.iter_lines():
            out.append(line)
            if '"process_completed"' in line or '"close_stream"' in line:
                break
            if time.monotonic() > deadline:
                out.append("timeout")
                break
    return "\n".join(out)


def served_files(client: httpx.Client, text: str) -> str:
    """The content of every Gradio file URL in a response (what an attacker would fetch)."""
    contents = []
    for url in sorted(set(FILE_URL.findall(text.replace("\\/", "/")))):
        r = client.get(url)
        contents.append(f"{url} {r.status_code} {r.content.decode('utf-8', 'replace')}")
    return "\n".join(contents)


def attack_every_event(
    client: httpx.Client, targets: dict[str, Path], canaries: list[str]
) -> tuple[int, list[tuple[str, str, str, str]]]:
    """Fire every discovered event with every target path in every shape.

    Returns:
        How many events were fired, and the leaks found: (event, target, shape, canary).
    """
    deps, components = dependencies(client)
    assert deps, "no events discovered in /config"
    tries, leaks = 0, []
    for dep in deps:
        inputs = [components.get(i, {"id": i}) for i in dep.get("inputs", [])]
        name = f"{dep['id']}:{dep.get('api_name') or dep.get('js') or ''}"
        for label, path in targets.items():
            for shape in ("typed", "bare"):
                data = [value_for(c, path, shape) for c in inputs]
                reply = fire(client, dep, data)
                seen = reply + "\n" + served_files(client, reply)
                tries += 1
                leaks += [(name, label, shape, c) for c in canaries if c in seen]
    return tries, leaks


def canaries_in(path: Path) -> list[str]:
    """The canary tokens a file holds (CNRY + 10 hex digits, or the users file's hashes)."""
    text = path.read_bytes().decode("utf-8", "replace")
    found = set(re.findall(r"CNRY[0-9A-F]{10}", text))
    found.update(re.findall(r"scrypt\$[^\s'\"]{20,}", text))
    return sorted(found)


def read_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except json.JSONDecodeError:
        return None
