"""A small permission corpus: one document per visibility case, each with its own canary string.

The canaries are tokens that occur in exactly one document, so finding one anywhere in an output
proves that document (or a chunk of it) reached the caller. Personas cover every kind of caller;
`allowed` restates the access rule of DESIGN.md independently of `assistant.access`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from assistant.types import ANONYMOUS, Chunk, Identity

CONTRIBUTORS_YAML = """\
contributors:
  - id: northlake-college
    name: Northlake Vocational College
    type: school
    chain_position: school
    visibility: public
    license: CC-BY-4.0
  - id: donghai-polytechnic
    name: Donghai Polytechnic
    type: school
    chain_position: school
    visibility: consortium
    license: CC-BY-4.0
  - id: huaxin-robotics
    name: Huaxin Robotics
    type: enterprise
    chain_position: upstream
    visibility: org
    license: proprietary
  - id: meridian-cnc
    name: Meridian CNC
    type: enterprise
    chain_position: downstream
    visibility: org
    license: proprietary
  - id: machine-tool-association
    name: Machine Tool Association
    type: industry_body
    visibility: consortium
    license: CC-BY-NC-4.0
"""

PERSONAS: dict[str, Identity] = {
    "student-northlake": Identity("ana", "northlake-college", "student"),
    "student-donghai": Identity("li", "donghai-polytechnic", "student"),
    "staff-huaxin": Identity("wang", "huaxin-robotics", "staff"),
    "staff-meridian": Identity("mia", "meridian-cnc", "staff"),
    "teacher-northlake": Identity("tom", "northlake-college", "teacher"),
    "admin": Identity("root", "consortium-office", "admin"),
    "anonymous": ANONYMOUS,
}


def canary(name: str) -> str:
    """A token that appears in one document only (letters and digits: one BM25 token)."""
    return "CNRY" + hashlib.sha256(name.encode()).hexdigest()[:10].upper()


@dataclass(frozen=True)
class CanaryDoc:
    """A document of the permission corpus and the question that should retrieve it."""

    name: str
    source: str
    visibility: str
    contributor: str
    roles: tuple[str, ...]
    question: str
    body: str
    sidecar: str = ""

    @property
    def canary(self) -> str:
        return canary(self.name)


def _body(title: str, topic: str, token: str, steps: list[str]) -> str:
    numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(steps, start=1))
    return (
        f"# {title}\n\n## Purpose\n\nThis document covers {topic}. Internal reference code "
        f"{token} identifies it in the document register.\n\n## Steps\n\n{numbered}\n\n"
        f"WARNING: Lock out the machine before any of these steps. Record code {token} in "
        "the maintenance log when done.\n"
    )


_DOCS = [
    ("public", "northlake-college/courses/coolant-basics.md", "public", "northlake-college", (),
     "How is the coolant concentration of a CNC lathe checked with a refractometer?",
     "Coolant concentration check", "checking the coolant concentration of a CNC lathe",
     ["Take a coolant sample from the sump.", "Put two drops on the refractometer prism.",
      "Read the Brix value and multiply it by the refractometer factor 1.6."], ""),
    ("consortium", "machine-tool-association/standards/guideway-wipers.md", "consortium",
     "machine-tool-association", (),
     "How often must the guideway wipers of a machining centre be replaced?",
     "Guideway wiper replacement interval", "the replacement interval of guideway wipers",
     ["Inspect the wiper lips every 250 hours.", "Replace the wipers every 2000 hours.",
      "Clean the way covers with a lint-free cloth."], ""),
    ("org-huaxin", "huaxin-robotics/procedures/j4-harmonic-drive.md", "org", "huaxin-robotics",
     (), "How is the J4 harmonic drive of the HX-R9 robot regreased?",
     "HX-R9 J4 harmonic drive regreasing", "regreasing the J4 harmonic drive of the HX-R9 robot",
     ["Move J4 to the zero position.", "Remove the grease outlet plug M6.",
      "Inject 18 g of Harmonic Grease 4B No.2 through the inlet."], ""),
    ("org-meridian", "meridian-cnc/procedures/spindle-drawbar-force.md", "org", "meridian-cnc",
     (), "How is the spindle drawbar clamping force of the MV-850 measured?",
     "MV-850 spindle drawbar force check", "measuring the drawbar clamping force of the MV-850",
     ["Insert the force gauge into the spindle taper.", "Clamp and read the force.",
      "The force must be between 8 and 10 kN."], ""),
    ("org-northlake", "northlake-college/admin/lab-access-codes.md", "org", "northlake-college",
     (), "What is the procedure for opening the Northlake robot lab after hours?",
     "Northlake robot lab after-hours access", "opening the Northlake robot lab after hours",
     ["Sign the after-hours register at the gate.", "Ask security to disarm zone 3.",
      "Open the lab with the supervisor key."], "visibility: org\n"),
    ("org-donghai", "donghai-polytechnic/admin/exam-bank.md", "org", "donghai-polytechnic",
     (), "Which PLC fault-finding tasks are in the Donghai practical exam bank?",
     "Donghai PLC practical exam bank", "the PLC fault-finding tasks of the practical exam",
     ["Task A: find the broken proximity sensor wire.", "Task B: find the swapped output card.",
      "Task C: find the wrong timer preset in the ladder."], "visibility: org\n"),
    ("teacher-only", "northlake-college/answer-keys/servo-tuning-key.md", "consortium",
     "northlake-college", ("teacher",),
     "What are the answers to the servo tuning exercise on gain and overshoot?",
     "Servo tuning exercise answer key", "the answers to the servo tuning exercise",
     ["Answer 1: raise the position loop gain until overshoot reaches 5 percent.",
      "Answer 2: lower the velocity integral time to 8 ms.",
      "Answer 3: the resonance at 430 Hz needs a notch filter."],
     "visibility: consortium\nallowed_roles: [teacher]\nkind: course\n"),
    ("org-huaxin-zh", "huaxin-robotics/cases/j2-encoder-zh.md", "org", "huaxin-robotics", (),
     "机器人J2轴编码器报警是怎么处理的？", "", "", [],
     "language: zh\nkind: case\n"),
]  # fmt: skip


def _zh_body(token: str) -> str:
    return (
        "# HX-R9 机器人 J2 轴编码器报警处理案例\n\n## 现象\n\n机器人 J2 轴在低温启动时报编码器"
        f"通信报警。内部编号 {token} 仅供本公司使用。\n\n## 处理步骤\n\n1. 断电并锁定控制柜。\n"
        "2. 检查 J2 编码器电缆的屏蔽层接地。\n3. 更换编码器电池并重新校零。\n"
    )


def canary_docs() -> list[CanaryDoc]:
    """The documents of the permission corpus."""
    out = []
    for name, source, vis, contributor, roles, question, title, topic, steps, sidecar in _DOCS:
        token = canary(name)
        body = _zh_body(token) if not title else _body(title, topic, token, steps)
        out.append(CanaryDoc(name, source, vis, contributor, roles, question, body, sidecar))
    return out


def write_canary_corpus(root: Path) -> list[CanaryDoc]:
    """Write contributors.yaml and every canary document (with its sidecar) under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "contributors.yaml").write_text(CONTRIBUTORS_YAML, encoding="utf-8")
    docs = canary_docs()
    for doc in docs:
        path = root / doc.source
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(doc.body, encoding="utf-8")
        if doc.sidecar:
            (path.parent / (path.name + ".meta.yaml")).write_text(doc.sidecar, encoding="utf-8")
    return docs


def allowed(identity: Identity, visibility: str, contributor: str, roles: tuple[str, ...]) -> bool:
    """The rule of DESIGN.md, written out independently of `assistant.access`."""
    member = bool(identity.org) and bool(identity.role)
    if visibility == "public":
        ok = True
    elif visibility == "consortium":
        ok = member
    elif visibility == "org":
        ok = member and identity.org == contributor
    else:
        ok = False
    if ok and roles:
        ok = member and (identity.role in roles or identity.role == "admin")
    return ok


def chunk_allowed(identity: Identity, chunk: Chunk) -> bool:
    return allowed(identity, chunk.visibility, chunk.contributor, tuple(chunk.allowed_roles))


def doc_allowed(identity: Identity, doc: CanaryDoc) -> bool:
    return allowed(identity, doc.visibility, doc.contributor, doc.roles)


def private_copy(home: Path, base: Path, users: dict[str, Identity], password: str) -> Path:
    """Copy an ingested store to `base/store` and write `base/users.yaml` with `users` (the
    anonymous left out), all with `password`; returns the users file. Tests that start a
    server over the permission corpus use their own copy, so what they change stays theirs."""
    import shutil

    from assistant.users import UserStore

    shutil.copytree(home, base / "store")
    users_file = base / "users.yaml"
    store = UserStore(users_file)
    for name, identity in users.items():
        if not identity.anonymous:
            store.add(name, str(identity.org), str(identity.role), password)
    return users_file
