"""report.html from a real toy run: its sections, its offline-ness, escaping, and Chromium."""

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_cli import TASK, offline_run, t2r

from text2reward.report import build_report

CHROMIUM = Path("/usr/bin/chromium")
SECTIONS = (
    "overview",
    "task",
    "rounds",
    "curves",
    "program",
    "diffs",
    "rollouts",
    "critic",
    "usage",
    "sandbox",
)


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory) -> Path:
    """A finished offline run of 2 rounds x 2 candidates at 2000 steps; `run` builds the report."""
    out = tmp_path_factory.mktemp("report") / "run"
    proc = offline_run(out, 2, 2)
    assert f"report: {out / 'report.html'}" in proc.stderr
    return out


@pytest.fixture
def run_copy(toy_run, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(toy_run, copy, ignore=shutil.ignore_patterns(".lock"))
    return copy


def test_run_writes_a_report_with_every_section(toy_run):
    page = (toy_run / "report.html").read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    summary = json.loads((toy_run / "summary.json").read_text())
    best = summary["best"]
    assert summary["env"] in page and TASK in page
    assert "pole_angular_velocity" in page  # the abstraction the designer saw
    assert html.escape(summary["success"]["metric"]) in page
    assert best["code_hash"] in page
    assert page.count("<svg") == 2 + 2 * len(summary["rounds"])  # best + per round
    assert page.count("<polyline") >= 6 and "success threshold (475)" in page
    assert 'class="hl"' in page  # highlighted program
    assert "round 0 best" in page and "round 1 best" in page  # the diff between rounds
    best_dir = toy_run / "rounds" / f"r{best['round']:02d}" / f"c{best['index']:02d}"
    assert (best_dir / "rollout.gif").stat().st_size > 1000
    assert "data:image/gif;base64," in page


def test_report_fetches_nothing(toy_run):
    page = (toy_run / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert "url(" not in page


def test_report_command_rebuilds_and_escapes_untrusted_text(run_copy):
    (run_copy / "report.html").unlink()
    attack = "<script>alert(1)</script>"
    (run_copy / "rounds" / "r00" / "c01" / "reply.md").write_text(f"Here it is {attack}")
    summary = json.loads((run_copy / "summary.json").read_text())
    summary["task"] = f"balance {attack}"
    summary["rounds"][0]["candidates"][1]["attempts"].insert(
        0, {"accepted": False, "stage": "static", "error": f"line 3: {attack} is not allowed"}
    )
    (run_copy / "summary.json").write_text(json.dumps(summary))
    (run_copy / "rounds" / "r00" / "c01" / "attempt0.py").write_text(f"# {attack}\n")
    proc = t2r("report", str(run_copy))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(run_copy / "report.html")
    page = (run_copy / "report.html").read_text()
    assert "<script" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4  # task, reply, error, code
    assert "1 repair(s)" in page and "rejected" in page


@pytest.mark.parametrize("kind", ["missing", "not_a_run"])
def test_report_of_a_missing_or_non_run_folder_is_one_line_and_exit_2(tmp_path, kind):
    folder = tmp_path / ("nope" if kind == "missing" else "")
    proc = t2r("report", str(folder))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")


def test_report_says_so_when_a_rollout_cannot_be_rendered(run_copy, monkeypatch):
    for gif in run_copy.glob("rounds/*/*/rollout.gif"):
        gif.unlink()

    def no_renderer(*args, **kwargs):
        raise RuntimeError("no display")

    monkeypatch.setattr("text2reward.report.rollout_frames", no_renderer)
    page = build_report(run_copy).read_text()
    assert "No rollout media: rendering CartPole-v1 failed here: RuntimeError: no display" in page
    assert "data:image/gif" not in page


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
)
def test_report_renders_in_headless_chromium_with_visible_plots(toy_run, tmp_path):
    from PIL import Image

    url = (toy_run / "report.html").resolve().as_uri()
    shot = tmp_path / "report.png"
    proc = _chromium(
        f"--screenshot={shot}", "--window-size=1280,7000", url, profile=tmp_path / "p1"
    )
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    assert shot.stat().st_size > 0
    image = Image.open(shot).convert("RGB")
    blue = sum(1 for px in image.getdata() if px == (9, 105, 218))  # the first series' colour
    assert blue > 500, "no plotted line is visible in the screenshot"
    dom = _chromium("--dump-dom", url, profile=tmp_path / "p2").stdout
    assert dom.count("<svg") >= 4 and "<polyline" in dom and "data:image/gif" in dom


def test_each_training_writes_tensorboard_scalars(toy_run):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder = toy_run / "rounds" / "r00" / "c00"
    logs = sorted(folder.glob("tb/*/events.out.tfevents.*"))
    assert logs, "no TensorBoard event file"
    events = EventAccumulator(str(logs[0].parent))
    events.Reload()
    tags = events.Tags()["scalars"]
    assert {"task/score", "task/env_return", "train/loss"} <= set(tags)
    components = json.loads((folder / "result.json").read_text())["eval"]["components"]
    assert {f"reward_components/{name}" for name in components} <= set(tags)
    snapshots = json.loads((folder / "result.json").read_text())["snapshots"]
    scored = [s for s in snapshots if s.get("score") is not None]
    assert [e.step for e in events.Scalars("task/score")] == [s["step"] for s in scored]
