"""The adversarial corpus against the critics and the OS layers of the sandboxed worker.

- Every attack in tests/corpus/attacks is rejected by ``text2reward check`` (exit 1, with a
  reason), or, for loops that only time can judge, killed at the worker's time limit.
- Attacks marked ``# bypass: contained`` are also run with the static critic and the vetted
  surface bypassed (full builtins, real modules) inside a locked-down process, and must leave
  no trace outside the scratch dir: a canary file unchanged, nothing new in an outside dir or
  in /tmp, no child process, no connection to a listening server, a victim process alive.
- The same bypass runs through the real worker for a ``check`` and a ``train`` job.
- Every program in tests/corpus/benign is accepted (exit 0).
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from text2reward.cli import main
from text2reward.critic.static import check_source
from text2reward.sandbox.job import Job
from text2reward.sandbox.local import run_job
from text2reward.sandbox.lockdown import (
    layer_report,
    layers,
    lock_down,
    missing_layers,
    worker_environment,
)

CORPUS = Path(__file__).parent / "corpus"
ATTACKS = sorted((CORPUS / "attacks").glob("*.py"))
BENIGN = sorted((CORPUS / "benign").glob("*.py"))


def header(path: Path) -> dict[str, str]:
    fields = {}
    for line in path.read_text().splitlines():
        m = re.match(r"# (\w+): (.*)", line)
        if not m:
            break
        fields[m.group(1)] = m.group(2).strip()
    return fields


def of_kind(kind: str) -> list[Path]:
    return [p for p in ATTACKS if header(p)["expected"] == kind]


BYPASS = [p for p in ATTACKS if header(p).get("bypass") == "contained"]
OS_LAYERS = layers()
needs_os_layers = pytest.mark.skipif(
    not (OS_LAYERS["seccomp"] and OS_LAYERS["landlock"]),
    reason=f"OS layers missing here: {missing_layers()}")


def cli_check(path: Path):
    return CliRunner().invoke(main, ["check", "--env", "CartPole-v1", str(path)])


def test_corpus_headers_are_complete():
    assert len(ATTACKS) >= 40 and len(BENIGN) >= 10
    categories = {header(p)["category"] for p in ATTACKS}
    for needed in ("file read", "file write", "network", "processes", "import escape",
                   "introspection escape", "numpy I/O", "ctypes", "memory bomb", "CPU bomb",
                   "recursion bomb", "huge allocation", "infinite loop", "signals",
                   "mutating state"):
        assert needed in categories
    for p in ATTACKS:
        assert header(p)["expected"] in ("static", "runtime", "timeout"), p.name
        assert header(p).get("why"), p.name


# -- the critics --------------------------------------------------------------------------------
@pytest.mark.parametrize("path", of_kind("static"), ids=lambda p: p.stem)
def test_static_attack_is_rejected_by_check(path):
    result = cli_check(path)
    assert result.exit_code == 1, result.output
    assert "rejected by the static critic" in result.stdout
    # every finding names the line, the construct, why, and what to use instead
    finding = result.stdout.splitlines()[1].strip()
    assert re.match(r"line \d+: .+: .+; .+", finding), finding


@pytest.mark.parametrize("path", of_kind("runtime"), ids=lambda p: p.stem)
def test_runtime_attack_is_rejected_by_check_with_a_reason(path):
    assert check_source(path.read_text()) == []  # written to pass the static layer
    result = cli_check(path)
    assert result.exit_code == 1, result.output
    assert "rejected by the runtime critic" in result.stdout
    reason = " ".join(result.stdout.splitlines()[1:])
    expected = r"read-only|MemoryError|RecursionError|AttributeError|NameError"
    assert re.search(expected, reason), reason


@pytest.mark.parametrize("path", of_kind("timeout"), ids=lambda p: p.stem)
def test_endless_attack_is_stopped_or_killed(path, tmp_path):
    assert check_source(path.read_text()) == []
    result = run_job(Job("check", "CartPole-v1", str(path), str(tmp_path), timeout_s=5))
    # Stopped by the runtime critic's per-call deadline, or (a loop inside one C call, which a
    # signal cannot interrupt) killed with the worker at the job's time limit.
    stopped = result["status"] == "rejected" and "took over" in " ".join(result["findings"])
    killed = result["status"] == "failed" and "time limit" in result["reason"]
    assert stopped or killed, result


@pytest.mark.parametrize("path", BENIGN, ids=lambda p: p.stem)
def test_benign_program_is_accepted(path):
    assert check_source(path.read_text()) == [], path.name
    result = cli_check(path)
    assert result.exit_code == 0, result.output
    assert "accepted" in result.stdout


def test_check_explain_lists_every_layer_and_what_the_worker_applied():
    result = CliRunner().invoke(main, ["check", "--explain", "--env", "CartPole-v1",
                                       str(BENIGN[0])])
    assert result.exit_code == 0, result.output
    for name, (active, _) in layer_report().items():
        assert re.search(rf"sandbox {'active' if active else 'MISSING'} +{name}:", result.stderr)
        if not active:
            assert f"warning: sandbox layer {name}" in result.stderr
    assert "sandbox applied in the worker: rlimits on" in result.stderr


def test_layers_are_detected_not_assumed():
    report = layer_report()
    assert set(report) == {"clean_environment", "process_group_timeout", "rlimits", "landlock",
                           "seccomp", "capabilities", "bubblewrap"}
    assert layers() == {k: v for k, (v, _) in report.items()}
    assert missing_layers() == [k for k, (v, _) in report.items() if not v]
    for _, detail in report.values():
        assert detail


# -- the OS layers, with the static critic bypassed ---------------------------------------------
PROBE = textwrap.dedent("""
    import json, os, socket, subprocess, sys
    from text2reward.sandbox.lockdown import lock_down
    scratch, outside, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    applied = lock_down(cpu_seconds=5, scratch=scratch)
    report = {"applied": applied}
    def attempt(name, fn):
        try:
            fn()
            report[name] = "done"
        except BaseException as exc:
            report[name] = f"{type(exc).__name__}: {exc}"
    attempt("write_outside", lambda: open(outside, "w").write("x"))
    attempt("write_scratch", lambda: open(os.path.join(scratch, "ok.txt"), "w").write("x"))
    attempt("read_system_file", lambda: open("/etc/hostname").read())
    attempt("connect", lambda: socket.create_connection(("127.0.0.1", port), timeout=2))
    attempt("fork", lambda: os.fork() or None)
    attempt("subprocess", lambda: subprocess.run(["true"]))
    attempt("kill_parent", lambda: os.kill(os.getppid(), 0))
    attempt("kill_self", lambda: os.kill(os.getpid(), 0))
    print(json.dumps(report))
""")


@pytest.fixture
def server():
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(8)
    tcp.setblocking(False)
    port = tcp.getsockname()[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    udp.setblocking(False)
    yield port, tcp, udp
    tcp.close()
    udp.close()


def assert_no_traffic(tcp, udp):
    with pytest.raises(BlockingIOError):
        tcp.accept()
    with pytest.raises(BlockingIOError):
        udp.recvfrom(100)


@needs_os_layers
def test_lock_down_blocks_files_sockets_processes_and_signals(tmp_path, server):
    port, tcp, udp = server
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    outside = tmp_path / "outside.txt"
    proc = subprocess.run([sys.executable, "-c", PROBE, str(scratch), str(outside), str(port)],
                          env=worker_environment(scratch), capture_output=True, text=True,
                          timeout=60, start_new_session=True)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert all(report["applied"].values()), report
    assert report["write_scratch"] == "done" and report["read_system_file"] == "done"
    assert report["kill_self"] == "done"
    assert report["write_outside"].startswith("PermissionError")
    for name in ("connect", "fork", "subprocess", "kill_parent"):
        assert report[name].startswith("PermissionError: [Errno 1]"), (name, report[name])
    assert not outside.exists()
    assert_no_traffic(tcp, udp)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="memory rlimits: Linux")
def test_memory_limit_is_the_data_segment_for_gpu_workers():
    """A CUDA context reserves far more address space than the 8 GiB limit: GPU workers are
    limited on their data segment instead, CPU workers on their address space."""
    script = textwrap.dedent("""
        import resource, sys
        from text2reward.sandbox.lockdown import MEMORY_LIMIT, _set_rlimits
        before = {r: resource.getrlimit(r) for r in (resource.RLIMIT_AS, resource.RLIMIT_DATA)}
        _set_rlimits(60, gpu=sys.argv[1] == "gpu")
        for r in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
            print(resource.getrlimit(r)[0] == MEMORY_LIMIT, resource.getrlimit(r) == before[r])
    """)
    runs = {}
    for kind in ("cpu", "gpu"):
        proc = subprocess.run([sys.executable, "-c", script, kind], capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        runs[kind] = proc.stdout.split()
    assert runs["cpu"] == ["True", "False", "False", "True"]  # AS limited, DATA untouched
    assert runs["gpu"] == ["False", "True", "True", "False"]  # DATA limited, AS untouched


def test_lock_down_keeps_threads_and_is_fast(tmp_path):
    script = textwrap.dedent("""
        import sys, threading, time
        import numpy as np
        from text2reward.sandbox.lockdown import lock_down
        t = time.perf_counter()
        applied = lock_down(cpu_seconds=5, scratch=sys.argv[1])
        ms = (time.perf_counter() - t) * 1000
        out = []
        th = threading.Thread(target=lambda: out.append(float(np.ones((50, 50)).sum())))
        th.start(); th.join()
        print(ms, out[0], all(applied.values()))
    """)
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                          text=True, timeout=60, env=worker_environment(tmp_path))
    assert proc.returncode == 0, proc.stderr
    ms, total, _ = proc.stdout.split()
    assert float(total) == 2500.0
    print(f"lock_down took {float(ms):.1f} ms")


# A process that imports what attacks use, then forks one locked-down child per attack (fork is
# allowed before lock-down), runs the attack with full builtins and reports what happened.
ZYGOTE = textwrap.dedent("""
    import ctypes, json, multiprocessing, os, pathlib, signal, socket, subprocess, sys, threading
    import time, urllib.request
    import numpy as np
    from text2reward.sandbox.lockdown import lock_down
    from text2reward.envs import StateView, load_spec

    plan = json.loads(open(sys.argv[1]).read())
    spec = load_spec("CartPole-v1")
    obs = np.array([[0.1, 0.0, 0.05, 0.0], [-0.5, 1.0, -0.1, 0.2]])
    original = obs.copy()

    def group_members(pgid):
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.getpgid(int(entry)) == pgid:
                        found.append(int(entry))
                except OSError:
                    pass
        return found

    for item in plan:
        pid = os.fork()
        if pid == 0:
            os.setsid()
            os.chdir(item["scratch"])
            applied = lock_down(cpu_seconds=2, scratch=item["scratch"])
            out = {"applied": applied, "outcome": "returned"}
            try:
                ns = {"__name__": "attack", **item["names"]}
                exec(compile(open(item["path"]).read(), item["path"], "exec"), ns)
                view = StateView.from_obs(spec, obs)
                ns["compute_reward"](view, np.array([0, 1]), view)
            except BaseException as exc:
                out["outcome"] = f"{type(exc).__name__}: {exc}"
            if threading.active_count() > 1:
                time.sleep(0.2)  # let threads the attack started try their worst
            out["obs_unchanged"] = bool((obs == original).all())
            open(os.path.join(item["scratch"], "report.json"), "w").write(json.dumps(out))
            os._exit(0)
        deadline = time.time() + 10
        while time.time() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.02)
        else:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = -1
        leftovers = group_members(pid)
        for other in leftovers:
            os.kill(other, signal.SIGKILL)
        info = {"status": status, "leftover_processes": leftovers}
        open(os.path.join(item["root"], "zygote.json"), "w").write(json.dumps(info))
""")


def _arena(root: Path) -> dict:
    """Directories, a canary, a /tmp target, a victim process for one attack."""
    (root / "scratch" / "tmp").mkdir(parents=True)
    (root / "outside").mkdir()
    canary = root / "outside" / "canary.txt"
    canary.write_text("original")
    canary.chmod(0o644)
    victim = subprocess.Popen(["sleep", "60"], start_new_session=True)
    return {"root": str(root), "scratch": str(root / "scratch"), "victim": victim,
            "names": {"CANARY": str(canary), "OUTSIDE": str(root / "outside"),
                      "TMP_TARGET": f"/tmp/t2r-attack-{uuid.uuid4().hex}",
                      "VICTIM": victim.pid}}


@pytest.fixture(scope="module")
def contained(tmp_path_factory):
    """Run every bypass attack once, in one zygote process; yield per-attack evidence."""
    if not (OS_LAYERS["seccomp"] and OS_LAYERS["landlock"]):
        pytest.skip(f"OS layers missing here: {missing_layers()}")
    base = tmp_path_factory.mktemp("contained")
    servers, plan, arenas = [], [], {}
    for path in BYPASS:
        arena = _arena(base / path.stem)
        tcp = socket.socket()
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(8)
        tcp.setblocking(False)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", tcp.getsockname()[1]))
        udp.setblocking(False)
        servers += [tcp, udp]
        arena["names"]["PORT"] = tcp.getsockname()[1]
        arena.update(tcp=tcp, udp=udp)
        arenas[path.stem] = arena
        plan.append({"path": str(path), "root": arena["root"], "scratch": arena["scratch"],
                     "names": arena["names"]})
    (base / "plan.json").write_text(json.dumps(plan))
    env = worker_environment(base)
    subprocess.run([sys.executable, "-c", ZYGOTE, str(base / "plan.json")], env=env,
                   timeout=300, check=True, start_new_session=True)
    yield arenas
    for arena in arenas.values():
        arena["victim"].kill()
        arena["victim"].wait()
    for s in servers:
        s.close()


def assert_contained(arena: dict) -> dict:
    root = Path(arena["root"])
    names = arena["names"]
    canary = Path(names["CANARY"])
    assert canary.read_text() == "original"
    assert stat.S_IMODE(canary.stat().st_mode) == 0o644
    assert sorted(os.listdir(names["OUTSIDE"])) == ["canary.txt"]
    assert not Path(names["TMP_TARGET"]).exists()
    assert arena["victim"].poll() is None, "the victim process was killed"
    assert_no_traffic(arena["tcp"], arena["udp"])
    info = json.loads((root / "zygote.json").read_text())
    assert info["leftover_processes"] == [], "a child process outlived the attack"
    report_path = root / "scratch" / "report.json"
    return json.loads(report_path.read_text()) if report_path.exists() else {}


@pytest.mark.parametrize("path", BYPASS, ids=lambda p: p.stem)
def test_attack_with_static_layer_bypassed_is_contained(path, contained):
    report = assert_contained(contained[path.stem])
    if report:  # the attack returned or raised (a bomb may have killed the process instead)
        assert all(report["applied"].values()), report
        assert report["obs_unchanged"], "the env's observation batch was modified"
    if path.stem == "file_read_parent_environ":
        assert report["outcome"].startswith("PermissionError"), report


# -- the real worker, static layer bypassed, during check and train -----------------------------
BYPASS_WORKER = textwrap.dedent("""
    import json, sys
    import text2reward.program as program
    names = json.loads(sys.argv[2])

    def load(cls, source, filename="<reward>"):  # no static critic, no vetted surface
        ns = {"__name__": "attack", **names}
        exec(compile(source, filename, "exec"), ns)
        return cls(source, ns["compute_reward"])

    program.RewardProgram.load = classmethod(load)
    from text2reward.sandbox.worker import main
    sys.exit(main(["worker", sys.argv[1]]))
""")

MIXED_ATTACK = textwrap.dedent("""
    import json, os, socket, subprocess
    import numpy as np

    TRIED = {}

    def attempt(name, fn):
        try:
            fn()
            TRIED[name] = "done"
        except BaseException as exc:
            TRIED[name] = f"{type(exc).__name__}: {exc}"

    def compute_reward(state, action, next_state):
        if not TRIED:
            attempt("write", lambda: open(CANARY, "w").write("pwned"))
            attempt("create", lambda: open(OUTSIDE + "/new.txt", "w"))
            attempt("tmp", lambda: open(TMP_TARGET, "w"))
            attempt("connect", lambda: socket.create_connection(("127.0.0.1", PORT), timeout=2))
            attempt("fork", lambda: os.fork() or os._exit(0))
            attempt("exec", lambda: subprocess.run(["touch", OUTSIDE + "/exec.txt"]))
            attempt("kill", lambda: os.kill(VICTIM, 9))
            attempt("kill_parent", lambda: os.kill(os.getppid(), 15))
            with open("tried.json", "w") as f:  # the scratch dir is writable
                json.dump(TRIED, f)
        up = np.cos(next_state.pole_angle)
        return up, {"up": up}
""")


def _bypass_job(kind: str, tmp_path: Path, port: int, **job_fields) -> tuple[dict, dict, dict]:
    arena = _arena(tmp_path / "arena")
    arena["names"]["PORT"] = port
    scratch = Path(arena["scratch"])
    (scratch / "p.py").write_text(MIXED_ATTACK)
    job = Job(kind, "CartPole-v1", str(scratch / "p.py"), str(scratch), **job_fields)
    (scratch / "job.json").write_text(job.to_json())
    try:
        proc = subprocess.run([sys.executable, "-c", BYPASS_WORKER, str(scratch / "job.json"),
                               json.dumps(arena["names"])], env=worker_environment(scratch),
                              cwd=scratch, capture_output=True, text=True, timeout=120,
                              start_new_session=True)
        assert proc.returncode == 0, proc.stderr
        result = json.loads((scratch / "result.json").read_text())
        tried = json.loads((scratch / "tried.json").read_text())
        alive = arena["victim"].poll() is None
    finally:
        arena["victim"].kill()
        arena["victim"].wait()
    assert alive, "the victim process was killed"
    canary = Path(arena["names"]["CANARY"])
    assert canary.read_text() == "original"
    assert sorted(os.listdir(arena["names"]["OUTSIDE"])) == ["canary.txt"]
    assert not Path(arena["names"]["TMP_TARGET"]).exists()
    for name, outcome in tried.items():
        assert outcome.startswith("PermissionError"), (name, outcome)
    return result, tried, arena


@needs_os_layers
def test_check_job_contains_a_program_that_bypasses_the_static_layer(tmp_path, server):
    port, tcp, udp = server
    result, tried, _ = _bypass_job("check", tmp_path, port, timeout_s=60)
    assert result["status"] == "accepted", result  # the reward itself is fine
    assert all(result["sandbox"].values()), result["sandbox"]
    assert len(tried) == 8
    assert_no_traffic(tcp, udp)


@needs_os_layers
def test_training_works_with_all_layers_on_and_contains_a_bypassing_program(tmp_path, server):
    port, tcp, udp = server
    result, tried, arena = _bypass_job("train", tmp_path, port, timesteps=1024, n_envs=2,
                                       timeout_s=120)
    assert result["status"] == "trained", result
    assert all(result["sandbox"].values()), result["sandbox"]
    assert result["steps"] >= 1024
    assert (Path(arena["scratch"]) / "policy.zip").stat().st_size > 0
    assert len(tried) == 8
    assert_no_traffic(tcp, udp)


def test_training_job_reports_the_layers_it_ran_under(tmp_path):
    (tmp_path / "p.py").write_text((CORPUS / "benign" / "where_chains.py").read_text())
    result = run_job(Job("train", "CartPole-v1", str(tmp_path / "p.py"), str(tmp_path),
                         timesteps=512, n_envs=2))
    assert result["status"] == "trained", result
    expected = {k: OS_LAYERS[k] for k in ("landlock", "seccomp")}
    assert {k: result["sandbox"][k] for k in expected} == expected
    assert result["sandbox"]["rlimits"]


def test_lock_down_reports_a_layer_it_cannot_apply(tmp_path, capfd, monkeypatch):
    import text2reward.sandbox.lockdown as sandbox

    # In-process lock-down would confine pytest itself, so run only the failing seccomp path.
    monkeypatch.setattr(sandbox, "_seccomp_module", lambda: None)
    monkeypatch.setattr(sandbox, "_landlock", lambda scratch: (_ for _ in ()).throw(
        OSError(38, "Landlock is unavailable")))
    monkeypatch.setattr(sandbox, "_drop_capabilities", lambda: None)
    monkeypatch.setattr(sandbox, "_set_rlimits", lambda cpu, gpu=False: None)
    applied = lock_down(cpu_seconds=5, scratch=tmp_path)
    assert applied["seccomp"] is False and applied["landlock"] is False
    err = capfd.readouterr().err
    assert "warning: sandbox layers not applied" in err and "seccomp" in err and "landlock" in err


