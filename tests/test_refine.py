"""`refine` and `run --interactive`: a person's decisions between rounds, scripted on stdin.

Tiny budgets (2 candidates, 2000 steps); the LLM designer talks to the scripted fake server.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from fake_openai import cartpole_reply
from test_cli import TASK

from text2reward.analysis.reflection import findings
from text2reward.envs.spec import load_spec
from text2reward.offline import _fmt, adjust

BASE = ["--env", "CartPole-v1", "--task", TASK, "--samples", "2", "--timesteps", "2000"]


def t2r(*args: str, input: str | None = None, env=None) -> subprocess.CompletedProcess:
    """The command line, with ``input`` as its whole stdin (end of input after it)."""
    exe = Path(sys.executable).with_name("text2reward")
    full = {k: v for k, v in {**os.environ, **(env or {})}.items() if v is not None}
    return subprocess.run([str(exe), *args], input=input or "", capture_output=True, text=True,
                          env=full, timeout=600)


def journal(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]


def human(out: Path) -> list[tuple[int, str]]:
    return [(e["round"], e["action"]) for e in journal(out) if e["event"] == "human"]


def program(out: Path, at: list[int]) -> str:
    return (out / "rounds" / f"r{at[0]:02d}" / f"c{at[1]:02d}" / "program.py").read_text()


def refine(out: Path, stdin: str, *args: str, env=None):
    return t2r("refine", str(out), *args, input=stdin, env=env)


def test_refine_with_an_llm_feeds_typed_words_and_a_rollout_choice_to_the_next_prompts(
        tmp_path, fake_openai):
    def varied(i, body):  # every request gets new programs, so no round repeats another
        return cartpole_reply(2 * (len(fake_openai.completions) - 1) + i)

    fake_openai.replies = varied
    out = tmp_path / "run"
    no_key = {"OPENAI_API_KEY": None}
    proc = t2r("run", *BASE, "--model", "openai/fake-model", "--api-base", fake_openai.api_base,
               "--rounds", "1", "--out", str(out), env=no_key)
    assert proc.returncode == 0, proc.stderr
    script = ("f\nkeep the cart much closer to the centre\n"  # review of round 0
              "c\n2\nit sways less\n"                           # round 1: prefer the 2nd rollout
              "f\npenalise fast pole swings\n"                   # round 2
              "a\n")                                             # round 3: accept
    proc = refine(out, script, "--rounds", "3", "--no-render", env=no_key)
    assert proc.returncode == 0, proc.stderr

    bodies = [r.body for r in fake_openai.completions]
    assert len(bodies) == 4  # round 0, then one request per refined round
    last = [b["messages"][-1]["content"] for b in bodies]
    assert "keep the cart much closer to the centre" in last[1]
    assert "penalise fast pole swings" in last[3]
    assert "keep the cart much closer" not in last[2] + last[3]  # words shape the next round only

    events = [e for e in journal(out) if e["event"] == "human"]
    assert [(e["round"], e["action"]) for e in events] == [
        (0, "feedback"), (1, "choose"), (2, "feedback"), (3, "accept")]
    assert events[0]["text"] == "keep the cart much closer to the centre"
    choice = events[1]
    assert choice["text"] == "it sways less" and choice["chosen"] != choice["other"]
    # the rejected rollout was ranked first: the run's best, which the prompt showed until now
    review = proc.stderr[proc.stderr.index("your review of round 1"):]
    first_row = re.search(r"1\*\s*│\s*r(\d+) c(\d+)\b", review)
    assert first_row and [int(g) for g in first_row.groups()] == choice["other"], review
    shown = bodies[2]["messages"][-2]
    assert shown["role"] == "assistant"
    assert program(out, choice["chosen"]).strip() in shown["content"]
    assert program(out, choice["other"]).strip() not in shown["content"]
    assert "preferred the behaviour" in last[2] and "it sways less" in last[2]
    assert "round {} candidate {}".format(*choice["chosen"]) in last[2]

    config = json.loads((out / "config.json").read_text())
    assert config["rounds"] == 4
    assert any(e["event"] == "config" and e["key"] == "rounds" and (e["from"], e["to"]) == (1, 4)
               for e in journal(out))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert summary["stopped"] == "accepted by a person after round 3"
    assert len(summary["rounds"]) == 4


def test_offline_choice_sets_the_parent_and_a_left_session_resumes_where_it_stopped(tmp_path):
    out = tmp_path / "run"
    proc = t2r("run", *BASE, "--model", "offline", "--rounds", "1", "--out", str(out))
    assert proc.returncode == 0, proc.stderr

    # choose the second rollout of round 0, then leave at the review of round 1 (end of input)
    proc = refine(out, "c\n2\n\n", "--rounds", "2")
    assert proc.returncode == 130, proc.stderr
    assert f"you left the review of round 1; everything so far is kept: text2reward refine {out}" \
        in proc.stderr
    gifs = re.findall(r"rollout (\S+\.gif)", proc.stderr)
    assert len(gifs) == 4 and all(Path(g).is_file() for g in gifs)  # top two, rounds 0 and 1
    events = journal(out)
    choice = next(e for e in events if e["event"] == "human")
    assert choice["round"] == 0 and choice["action"] == "choose" and "text" not in choice
    assert any(e["event"] == "review_left" and e["round"] == 1 for e in events)

    # the preferred candidate is the parent of round 1's mutations (the offline family's params)
    family = load_spec("CartPole-v1").tasks["balance"].family
    proposed = {e["round"]: e["candidates"] for e in events if e["event"] == "proposed"}

    def parent_of(at):
        params = proposed[at[0]][at[1]]["params"]
        result = json.loads((out / "rounds" / f"r{at[0]:02d}" / f"c{at[1]:02d}" / "result.json")
                            .read_text())
        return {k: float(_fmt(v)) for k, v in adjust(family, params, findings(result)).items()}

    assert parent_of(choice["chosen"]) != parent_of(choice["other"])
    first = proposed[1][0]
    assert first["origin"] == "offline:adjusted" and first["params"] == parent_of(choice["chosen"])

    # continue: round 0 is not asked again, only the undecided round 1, then round 2
    proc = refine(out, "f\nkeep it centred\na\n")
    assert proc.returncode == 0, proc.stderr
    assert "continuing the refine session" in proc.stderr
    assert "your review of round 0" not in proc.stderr
    assert "your review of round 1" in proc.stderr and "your review of round 2" in proc.stderr
    assert human(out) == [(0, "choose"), (1, "feedback"), (2, "accept")]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished" and len(summary["rounds"]) == 3

    # a new session after an accept asks that round again and extends the rounds
    proc = refine(out, "", "--rounds", "1")
    assert proc.returncode == 130 and "you left the review of round 2" in proc.stderr
    tail = journal(out)[-4:]
    assert [e["event"] for e in tail] == ["human", "config", "review_session", "review_left"]
    assert tail[0]["action"] == "reopen" and (tail[1]["from"], tail[1]["to"]) == (3, 4)
    assert json.loads((out / "config.json").read_text())["rounds"] == 4


def test_run_interactive_asks_after_the_round_and_resume_replays_the_decision(tmp_path):
    out = tmp_path / "run"
    proc = t2r("run", *BASE, "--model", "offline", "--rounds", "1", "--samples", "1",
               "--interactive", "--out", str(out), input="f\nstay in the middle\n")
    assert proc.returncode == 0, proc.stderr
    assert "your review of round 0" in proc.stderr
    assert human(out) == [(0, "feedback")]
    assert [e["from_round"] for e in journal(out) if e["event"] == "review_session"] == [0]
    proc = t2r("resume", str(out))  # nothing left to do; the decision is replayed, not asked
    assert proc.returncode == 0, proc.stderr
    assert "your review" not in proc.stderr and human(out) == [(0, "feedback")]
