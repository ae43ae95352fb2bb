"""The documented commands work: every shell block of README.md and docs/*.md is either run here
or excluded with its reason in the doc (tests/docs_blocks.py describes the markers).

Runnable blocks run in document order, one fresh workspace per document: a copy of the
checkout's tracked files (as a fresh clone), HOME an empty directory inside it, the project's
virtualenv as the clone's ``.venv`` with its ``bin`` on PATH, no GDPO_*/DATABASE_* variables.
As root (CI) the blocks run as the unprivileged user ``nobody`` in a network namespace that has
only the loopback interface, so a path under /opt or /var that a doc relies on, or a command that
needs the network, fails here as it would for a user. The checkout's interpreter may sit under
root's closed home (pyenv): the workspace's virtualenv is then made from a system python3 of the
same version, with the project's installed packages added to its path.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.docs_blocks import REPO, Block, blocks_of, documents

UNPRIVILEGED = "nobody"
TOTAL_BUDGET_S = 120
_spent = {"s": 0.0}


def _all_blocks() -> list[Block]:
    return [b for doc in documents() for b in blocks_of(doc)]


def _runnable_docs() -> list[str]:
    return sorted({b.doc for b in _all_blocks() if b.mode == "run"},
                  key=lambda d: [str(p.relative_to(REPO)) for p in documents()].index(d))


def test_every_shell_block_is_decided():
    """A shell block with no marker (or a malformed one) fails: a new doc is decided on."""
    problems = [f"{b.where}: {b.problem}" for b in _all_blocks() if b.problem]
    assert not problems, "\n".join(problems)


def test_a_block_without_a_marker_is_reported():
    text = ("intro\n\n```bash\ngdpo db status\n```\n\n<!-- docs-test: skip -->\n```sh\nls\n```\n\n"
            "```\ngdpo history decisions --simulated\n```\n\n```\ngdpo plan [--at T]\n```\n")
    found = blocks_of(Path("EXAMPLE.md"), text)
    # no marker; skip without a reason; untagged commands (a synopsis is not a command)
    assert [bool(b.problem) for b in found] == [True, True, True]


def test_markers_are_parsed():
    text = ("<!-- docs-test: run; timeout 30; exit 1; replace `--speed 60` with `--speed 720` (faster);\n"
            "     drop `sudo ` (no root) -->\n\n```bash\nsudo gdpo run --speed 60\n```\n")
    (block,) = blocks_of(Path("EXAMPLE.md"), text)
    assert (block.mode, block.timeout_s, block.exit_status, block.problem) == ("run", 30, 1, "")
    assert block.script() == "gdpo run --speed 720\n"


def _config_blocks() -> list[Block]:
    """The gdpo config snippets of the docs: every YAML block but those marked as another
    program's file (<!-- docs-test: skip (reason) -->), which are left out rather than skipped."""
    return [b for doc in documents() for b in blocks_of(doc, with_config=True)
            if b.tag in ("yaml", "yml") and not (b.marker and b.marker.startswith("skip"))]


@pytest.mark.parametrize("block", _config_blocks(), ids=lambda b: b.where)
def test_a_documented_config_snippet_passes_config_check(block, tmp_path):
    """Each YAML block of the docs, saved as a config file, passes ``gdpo config check`` (a
    snippet that is not gdpo's config says so: <!-- docs-test: skip (reason) -->)."""
    config = tmp_path / "config.yaml"
    config.write_text(block.text)
    env = {"HOME": str(tmp_path), "PATH": f"{sys.prefix}/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    done = subprocess.run([f"{sys.prefix}/bin/gdpo", "config", "check", str(config)], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, f"{block.where}:\n{block.text}\n{done.stderr[-3000:]}"


# ----------------------------------------------------------------------------- the workspace

def _as_root() -> bool:
    return os.geteuid() == 0


def _user_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam(UNPRIVILEGED)
    return entry.pw_uid, entry.pw_gid


def _copy_checkout(dest: Path) -> None:
    """The tracked files of the checkout (what a clone holds), else the tree without build output."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True)
    if listed.returncode == 0 and listed.stdout:
        for name in listed.stdout.decode().split("\0"):
            src = REPO / name
            if name and src.is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / name)
        return
    shutil.copytree(REPO, dest, dirs_exist_ok=True, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", ".venv", ".tsdb", "build", "*.egg-info",
                                                  "__pycache__", ".pytest_cache"))


def _user_python() -> str | None:
    """A python3 of this interpreter's version that the unprivileged user can run."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for directory in ("/usr/bin", "/usr/local/bin", "/bin"):
        candidate = Path(directory) / version
        if candidate.exists():
            probe = _as_user(["/usr/bin/env", "-i", str(candidate), "-c", "import sys"])
            if probe.returncode == 0:
                return str(candidate)
    return None


def _as_user(argv: list[str]) -> subprocess.CompletedProcess:
    """Run ``argv`` as the unprivileged user (root only)."""
    uid, gid = _user_ids()
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *argv],
                          capture_output=True, text=True, timeout=30)


_VENVS: dict = {}   # the block user's virtualenv, whether a loopback-only namespace works


def _make_venv(workspace: Path) -> Path:
    """A virtualenv the block user can run, with the project's packages; returns its directory
    (made once per test module, in the first workspace)."""
    if "venv" not in _VENVS:
        _VENVS["venv"] = _build_venv(workspace)
    return _VENVS["venv"]


def _build_venv(workspace: Path) -> Path:
    """The checkout's virtualenv when the block user can run it, else one made in ``workspace``."""
    if not _as_root():
        return Path(sys.prefix)
    probe = _as_user(["/usr/bin/env", "-i", sys.executable, "-c", "import gdpo"])
    if probe.returncode == 0:
        return Path(sys.prefix)
    python = _user_python()
    if python is None:
        pytest.fail(f"{UNPRIVILEGED} cannot run {sys.executable} and no system python"
                    f"{sys.version_info.major}.{sys.version_info.minor} was found")
    venv = workspace / "venv"
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    project = [p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix)]
    # a checkout in a directory the user cannot enter (a clone under a 0700 temp dir): the
    # installed packages are copied, and the project's own packages come from the workspace copy
    project = [p if _user_can_read(p) else _copy_site(p, workspace) for p in project]
    sources = _project_sources(workspace / "goodwe-dynamic-price-optimiser")
    Path(purelib, "gdpo-project.pth").write_text(
        "".join(f"{p}\n" for p in sources) + "".join(f"import site; site.addsitedir({p!r})\n" for p in project))
    for script in (Path(sys.prefix) / "bin").iterdir():
        first = script.read_bytes()[:200].split(b"\n", 1)[0] if script.is_file() else b""
        if first.startswith(b"#!") and b"python" in first and not (venv / "bin" / script.name).exists():
            body = script.read_text().split("\n", 1)[1]
            (venv / "bin" / script.name).write_text(f"#!{venv}/bin/python\n{body}")
            (venv / "bin" / script.name).chmod(0o755)
    return venv


def _user_can_read(path: str) -> bool:
    """Whether the block user can list and read ``path``."""
    return _as_user(["test", "-r", path, "-a", "-x", path]).returncode == 0


def _copy_site(path: str, workspace: Path) -> str:
    """A copy of the site-packages directory ``path`` in ``workspace``, readable by the user."""
    dest = workspace / f"site-{len(list(workspace.glob('site-*')))}"
    shutil.copytree(path, dest, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    return str(dest)


def _project_sources(clone: Path) -> list[str]:
    """The directories holding the project's packages (gdpo and the backends), in the copy
    ``clone`` of the checkout, so that the user imports them from files it can read."""
    import importlib.util

    out: list[str] = []
    for name in ("gdpo", "gdpo_sqlite", "gdpo_json_legacy", "gdpo_timescaledb"):
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        parent = Path(list(spec.submodule_search_locations)[0]).parent
        try:
            copied = clone / parent.relative_to(REPO)
        except ValueError:  # installed from elsewhere: the site copy holds it
            continue
        if str(copied) not in out:
            out.append(str(copied))
    return out


def _old_system(dest: Path) -> Path:
    """A legacy tree for the migration steps: the sample tree without the files it damages on
    purpose (those are the migration tests' business), so that every documented step exits 0."""
    samples = REPO / "tests" / "migrate" / "legacy_samples"
    shutil.copytree(samples / "tree", dest)
    for name in json.loads((samples / "manifest.json").read_text())["quarantined_files"]:
        (dest / name).unlink()
    return dest


@pytest.fixture(scope="module")
def workspaces():
    """Makes one workspace per document; removes them all at the end."""
    made: list[Path] = []

    def make(doc: str) -> dict:
        root = Path(tempfile.mkdtemp(prefix="gdpo-docs-", dir="/tmp"))
        made.append(root)
        root.chmod(0o755)
        clone = root / "goodwe-dynamic-price-optimiser"
        clone.mkdir()
        _copy_checkout(clone)
        venv = _make_venv(root)
        (clone / ".venv").symlink_to(venv)
        home = root / "home"
        home.mkdir(mode=0o700)
        legacy = _old_system(root / "old-system")
        if _as_root():
            uid, gid = _user_ids()
            for path in [clone, home, legacy, *clone.rglob("*"), *home.rglob("*"), *legacy.rglob("*")]:
                os.lchown(path, uid, gid)
        env = {"HOME": str(home), "PATH": f"{venv}/bin:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
               "USER": UNPRIVILEGED if _as_root() else os.environ.get("USER", "user"),
               "TZ": os.environ.get("TZ", "Europe/Warsaw"), "TERM": "dumb"}
        return {"root": root, "clone": clone, "home": home, "legacy": legacy, "env": env}

    yield make
    for root in made:
        shutil.rmtree(root, ignore_errors=True)
    _VENVS.clear()


def _command(script: Path, env: dict, own_network: bool = True) -> list[str]:
    argv = ["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in env.items()), "bash", "-eo", "pipefail", str(script)]
    if not _as_root():
        return argv
    uid, gid = _user_ids()
    argv = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *argv]
    if own_network and _loopback_only_namespace():
        # only the loopback interface: a command that reaches beyond this machine fails
        argv = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *argv]
    return argv


def _loopback_only_namespace() -> bool:
    """True when a network namespace with only the loopback interface can be made here."""
    if "netns" not in _VENVS:
        ok = bool(shutil.which("unshare") and shutil.which("ip")) and subprocess.run(
            ["unshare", "--net", "ip", "link", "set", "lo", "up"], capture_output=True).returncode == 0
        _VENVS["netns"] = ok
    return bool(_VENVS["netns"])


def run_block(block: Block, ws: dict) -> subprocess.CompletedProcess:
    """Run ``block`` (rewritten by its marker) in the workspace ``ws``, bounded by its timeout."""
    text = block.script().replace("{legacy}", str(ws["legacy"]))
    script = ws["root"] / f"block-{block.line}.sh"
    # the first failing command names its line (of the block) on stderr
    script.write_text(f"cd {ws['clone']}\ntrap 'echo \"docs-test: line $((LINENO - 2)) exited $?\" >&2' ERR\n{text}")
    script.chmod(0o644)
    limit_s = block.timeout_s
    if block.check is not None:
        script = _start_check_stop(block, script)
        limit_s += 15
    env = {**ws["env"], **{name: os.environ[name] for name in block.needs_env}}
    proc = subprocess.Popen(_command(script, env, own_network=not block.needs_env), cwd=ws["clone"],
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{block.where}: still running after {block.timeout_s} s\n{text}\n"
                    f"--- stdout\n{out[-3000:]}\n--- stderr\n{err[-3000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _start_check_stop(block: Block, script: Path) -> Path:
    """A wrapper that starts the long-running ``script`` in the background, runs the marker's
    check until it passes (within the block's timeout), then stops the block with SIGTERM and
    requires it gone within 10 s. Its status: 0 when the check passed and the block stopped."""
    wrapper = script.with_name(script.stem + "-start.sh")
    wrapper.write_text(f"""set -m
bash -eo pipefail {script} &
pid=$!
ok=
for _ in $(seq 1 {block.timeout_s * 2}); do
  if {block.check} >/dev/null 2>&1; then ok=1; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
kill -TERM -- "-$pid" 2>/dev/null || true
for _ in $(seq 1 40); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.25; done
if kill -0 -- "-$pid" 2>/dev/null; then
  echo "docs-test: the block still runs 10 s after SIGTERM" >&2; kill -KILL -- "-$pid"; exit 1
fi
[ -n "$ok" ] || {{ echo "docs-test: the check never passed: {block.check}" >&2; exit 1; }}
""")
    wrapper.chmod(0o644)
    return wrapper


def _last_command_line(script: str) -> int:
    """The 1-based line of ``script`` where its last command starts (continuations joined)."""
    lines = script.splitlines()
    starts = [i + 1 for i, line in enumerate(lines)
              if line.strip() and not line.lstrip().startswith("#") and not (i and lines[i - 1].rstrip().endswith("\\"))]
    return starts[-1] if starts else 0


def outcome_problem(block: Block, done: subprocess.CompletedProcess) -> str:
    """What is wrong with how ``block`` ended ("" when it ended as documented): its status, and
    for a documented non-zero status, that no command before the last one failed."""
    failed = re.findall(r"^docs-test: line (\d+) exited", done.stderr, re.M)
    if block.exit_status and not (failed and int(failed[0]) == _last_command_line(block.script())):
        return f"{block.where}: a command before the last one failed (line {failed[:1]} of the block)"
    if done.returncode != block.exit_status:
        return f"{block.where}: exit {done.returncode}, documented {block.exit_status}"
    return ""


def test_a_documented_status_belongs_to_the_last_command(workspaces):
    text = ("<!-- docs-test: run; exit 1 -->\n```bash\ntrue\nfalse\n```\n\n"
            "<!-- docs-test: run; exit 1 -->\n```bash\nfalse\nfalse\n```\n\n"
            "<!-- docs-test: run -->\n```bash\nfalse\ntrue\n```\n")
    ws = workspaces("EXAMPLE.md")
    problems = [outcome_problem(b, run_block(b, ws)) for b in blocks_of(Path("EXAMPLE.md"), text)]
    assert [bool(p) for p in problems] == [False, True, True], problems


@pytest.mark.slow
@pytest.mark.parametrize("doc", _runnable_docs())
def test_the_runnable_blocks_of_a_document_run(doc, workspaces):
    """Each runnable block of ``doc``, in order, exits with its documented status."""
    ws = workspaces(doc)
    started = time.monotonic()
    left_out = []
    for block in [b for b in _all_blocks() if b.doc == doc and b.mode == "run"]:
        missing = [name for name in block.needs_env if not os.environ.get(name)]
        if missing:
            left_out.append(f"{block.where} needs {', '.join(missing)}")
            continue
        done = run_block(block, ws)
        problem = outcome_problem(block, done)
        assert not problem, (f"{problem}, as {ws['env']['USER']} with HOME={ws['home']}\n{block.script()}\n"
                             f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")
    _spent["s"] += time.monotonic() - started
    assert _spent["s"] < TOTAL_BUDGET_S, f"the docs test took {_spent['s']:.0f} s (budget {TOTAL_BUDGET_S} s)"
    if left_out:
        reason = "not run: " + "; ".join(left_out) + " (scripts/test.sh starts the throwaway server)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def test_a_long_running_block_is_started_checked_and_stopped(workspaces):
    """``start; check `CMD``` runs a server block, checks it answers, stops it; a check that
    never passes fails the block."""
    url = "http://127.0.0.1:18931/health"
    text = (f"<!-- docs-test: run; timeout 30; start; check `curl -fsS {url}` -->\n```bash\n"
            "gdpo db init\ngdpo web --port 18931\n```\n\n"
            "<!-- docs-test: run; timeout 2; start; check `false` -->\n```bash\nsleep 60\n```\n")
    answers, never = blocks_of(Path("EXAMPLE.md"), text)
    ws = workspaces("EXAMPLE.md")
    done = run_block(answers, ws)
    assert done.returncode == 0, done.stderr[-3000:]
    done = run_block(never, ws)
    assert done.returncode == 1 and "the check never passed" in done.stderr


def test_a_block_that_needs_a_system_path_fails(workspaces):
    """The runner can fail: writing the database under /opt (not the user's) is refused."""
    if not _as_root():
        pytest.skip("as an ordinary user /opt may be writable only in odd setups; the root run checks it")
    text = ("<!-- docs-test: run -->\n```bash\n"
            "DATABASE_PATH=/opt/goodwe-dynamic-price-optimiser/data/goodwe_energy.db gdpo db init\n```\n")
    (block,) = blocks_of(Path("EXAMPLE.md"), text)
    done = run_block(block, workspaces("EXAMPLE.md"))
    assert done.returncode != 0 and "DATABASE_PATH" in done.stderr + done.stdout


def test_a_block_reaches_only_loopback(workspaces):
    """As root the blocks run where only the loopback interface exists: no address beyond it."""
    if not (_as_root() and _loopback_only_namespace()):
        pytest.skip("needs root and a network namespace (unshare --net)")
    text = ("<!-- docs-test: run -->\n```bash\n"
            "python3 -c \"import socket; socket.create_connection(('192.0.2.1', 9), timeout=2)\"\n```\n")
    (block,) = blocks_of(Path("EXAMPLE.md"), text)
    done = run_block(block, workspaces("EXAMPLE.md"))
    assert done.returncode != 0 and "unreachable" in done.stderr, done.stderr[-2000:]
