"""Every Python example of the README and of docs/*.md runs as written.

The conventions, for whoever writes docs:

- A fence whose info string starts with ``python`` (or ``py``, ``python3``) is an example and
  runs. One that cannot run (a signature, an output, a fragment) says so: ```` ```python no-run ````
  (any other word after ``python`` is refused here, so a typo cannot silently skip a block).
- The blocks of a page run **in sequence in one interpreter**, like a reader going down the page:
  later blocks may use what earlier ones defined (``docs/profiles.md`` builds one profile and then
  saves, contrasts and reports it). A page listed in ``BLOCKS_STAND_ALONE`` runs each block in its
  own interpreter instead, so each must be complete.
- Each interpreter is a fresh subprocess in a fresh temporary directory (its cwd and ``TMPDIR``),
  with a real ``raymon server`` (SQLite) behind ``RAYMON_URL``, ``RAYMON_API_KEY`` (an admin key)
  and ``RAYMON_PROJECT_ID`` (a new project for each run), which the examples read as a user's
  service would. Data comes from the house prices shipped in the package
  (``importlib.resources.files("raymon") / "demo_data"``). Nothing reaches the internet.
- The code is written to a script with the page's own line numbers (prose lines left blank), so a
  traceback names the page and the line in it.
- Each test's id says how many blocks of the page ran; a page whose Python blocks are all
  ``no-run`` fails (``test_every_page_with_python_has_a_block_that_runs``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCKS_STAND_ALONE = {"README.md", "docs/loggers.md"}  # each block is a complete program
PYTHON_FENCES = {"python", "py", "python3"}
NO_RUN = "no-run"
RUN_TIMEOUT_S = 300
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>```+|~~~+)(?P<info>[^`\n]*)$")


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository, e.g. "docs/profiles.md"
    line: int  # 1-based line of the first line of code
    code: str
    runs: bool


def python_blocks(path: Path, root: Path = REPO) -> list[Block]:
    """The page's Python fences, in order; raises ValueError on an unknown attribute or an unclosed fence."""
    page = path.relative_to(root).as_posix()
    lines = path.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, words = opening["fence"], opening["info"].split()
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == fence), None)
        if end is None:
            raise ValueError(f"{page}:{i + 1}: the fence {lines[i]!r} is never closed")
        if words and words[0].lower() in PYTHON_FENCES:
            unknown = [w for w in words[1:] if w != NO_RUN]
            if unknown:
                raise ValueError(
                    f"{page}:{i + 1}: unknown word(s) {unknown} after {words[0]!r}; "
                    f"only {NO_RUN!r} is known (it marks a block that must not run)"
                )
            blocks.append(Block(page, i + 2, "\n".join(lines[i + 1 : end]), NO_RUN not in words))
        i = end + 1
    return blocks


def _script(blocks: list[Block]) -> str:
    """One script of the blocks, each code line on its page's line number (blank lines between)."""
    out: list[str] = []
    for block in blocks:
        out += [""] * (block.line - 1 - len(out))
        out += block.code.splitlines()
    return "\n".join(out) + "\n"


def _runs() -> list[tuple[str, list[Block]]]:
    runs = []
    for path in PAGES:
        blocks = [b for b in python_blocks(path) if b.runs]
        if not blocks:
            continue
        page = blocks[0].page
        if page in BLOCKS_STAND_ALONE:
            runs += [(f"{page}:{b.line}", [b]) for b in blocks]
        else:
            runs.append((f"{page}: {len(blocks)} blocks in sequence", blocks))
    return runs


RUNS = _runs()


def test_every_page_with_python_has_a_block_that_runs() -> None:
    counts = {}
    for path in PAGES:
        blocks = python_blocks(path)
        if blocks:
            counts[path.relative_to(REPO).as_posix()] = (sum(b.runs for b in blocks), len(blocks))
    print("\n".join(f"{page}: {ran} of {total} Python blocks run" for page, (ran, total) in counts.items()))
    assert counts, "no Python example found at all: is the fence pattern broken?"
    silent = [page for page, (ran, _) in counts.items() if ran == 0]
    assert not silent, f"every Python block of {silent} is marked {NO_RUN}: nothing checks these pages"


def test_an_unknown_fence_word_is_refused_not_skipped(tmp_path: Path) -> None:
    page = tmp_path / "probe.md"
    page.write_text("# probe\n\n```python norun\nprint(1)\n```\n")
    with pytest.raises(ValueError, match="unknown word.*norun"):
        python_blocks(page, root=tmp_path)
    page.write_text("```python no-run\nraise SystemExit(3)\n```\n\n```py\nx = 1\n```\n\n```bash\nls\n```\n")
    assert [(b.line, b.runs) for b in python_blocks(page, root=tmp_path)] == [(2, False), (6, True)]


def test_a_failing_example_names_its_page_and_line(tmp_path: Path) -> None:
    blocks = [Block("docs/x.md", 3, "a = 1", True), Block("docs/x.md", 9, "b = 2\nundefined_name", True)]
    script = tmp_path / "docs_x.md.py"
    script.write_text(_script(blocks))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert result.returncode == 1 and "line 10" in result.stderr and "undefined_name" in result.stderr


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the examples test the client, not the store
@pytest.mark.parametrize(("name", "blocks"), RUNS, ids=[name for name, _ in RUNS])
def test_the_example_runs_as_written(server, name: str, blocks: list[Block], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project = server.new_project(f"docs {name}"[:60])
    (tmp_path / "tmp").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAYMON_")}
    env.update(
        RAYMON_URL=server.url,
        RAYMON_API_KEY=project.admin_key,
        RAYMON_PROJECT_ID=project.project_id,
        TMPDIR=str(tmp_path / "tmp"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    script = tmp_path / (blocks[0].page.replace("/", "_") + ".py")
    script.write_text(_script(blocks))
    result = subprocess.run(
        [sys.executable, script.name],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert result.returncode == 0, (
        f"{name} failed (lines are the page's):\n{result.stderr[-6000:]}\n--- stdout ---\n{result.stdout[-2000:]}"
    )
    if any("RAYMON_PROJECT_ID" in b.code for b in blocks):  # it logged to the server: something arrived
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {project.admin_key}"}
        ) as client:
            traces = client.get(f"/api/v1/projects/{project.project_id}/traces").json()["traces"]
        assert traces, f"{name} ran but the server holds no trace of project {project.project_id}"
