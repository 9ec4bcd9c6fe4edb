"""Record, replay and cache of LLM requests; history length; self-critique and analysis.

One recorded run (two injected 429s, a secret key in the environment, --llm-critique and
--llm-analysis on) is shared by the end-to-end tests; the rest go through LLMDesigner.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from fake_openai import Fail, FakeOpenAI, Say, cartpole_reply, start
from test_cli import TASK, t2r

from text2reward.designer import Candidate, DesignContext, Feedback
from text2reward.envs.spec import load_spec
from text2reward.errors import LLMError, UsageError
from text2reward.llm.designer import LLMDesigner
from text2reward.llm.prompts import feedback_messages
from text2reward.llm.record import default_cache_dir, read_record, request_key
from text2reward.search.review import Review

SECRET = "sk-test-SECRET"
MODEL = "openai/gpt-4o-mini"  # litellm prices it, so every round has a cost
ANALYSIS = "The policy keeps the pole up but drifts right; raise the centring weight."
RUN = ["run", "--env", "CartPole-v1", "--task", TASK, "--samples", "2", "--rounds", "2",
       "--timesteps", "2000", "--keep-going", "--llm-critique", "--llm-analysis"]


def smart_reply(index: int, body: dict) -> str:
    """Programs for proposals, OK for critiques, words for analyses."""
    last = body["messages"][-1]["content"]
    if "review this reward program" in last:
        return "OK"
    if "Analyse, in at most 150 words" in last:
        return ANALYSIS
    return cartpole_reply(index)


def hashes(summary: dict) -> list[list[str | None]]:
    return [[c.get("code_hash") for c in r["candidates"]] for r in summary["rounds"]]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A run against the fake server with two 429s before the first reply."""
    tmp = tmp_path_factory.mktemp("recorded")
    fake, stop = start(FakeOpenAI(replies=smart_reply))
    fake.queue(Fail(429), Fail(429))
    out = tmp / "run"
    try:
        proc = t2r(*RUN, "--model", MODEL, "--api-base", fake.api_base, "--out", str(out),
                   env={"OPENAI_API_KEY": SECRET, "XDG_CACHE_HOME": str(tmp / "cache")})
        yield SimpleNamespace(out=out, proc=proc, fake=fake, tmp=tmp,
                              received=len(fake.completions))
    finally:
        stop()


def test_a_run_with_two_rate_limits_completes_with_usage_per_round(recorded):
    assert recorded.proc.returncode == 0, recorded.proc.stderr
    summary = json.loads((recorded.out / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["stopped"] is None
    for rnd in summary["rounds"]:
        usage = rnd["usage"]
        assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
        assert usage["cost_usd"] > 0 and usage["requests"] >= 3  # propose + 2 critiques (+analysis)
    total = summary["usage"]
    assert total["requests"] == sum(r["usage"]["requests"] for r in summary["rounds"])
    per_round = sum(r["usage"]["cost_usd"] for r in summary["rounds"])
    assert total["cost_usd"] == pytest.approx(per_round)
    assert total["unpriced_requests"] == 0 and total["cached_requests"] == 0
    # 2 x 429 + the retried proposal, 2 critiques, 1 analysis, round 1's proposal, 2 critiques
    assert recorded.received == 9 and total["requests"] == 7
    lines = (recorded.out / "journal.jsonl").read_text().splitlines()
    journal = [json.loads(line) for line in lines]
    llm = [e for e in journal if e["event"] == "llm"]
    assert llm[0]["usage"]["attempts"] == 3
    assert [e["kind"] for e in llm].count("critique") == 4
    assert [e["kind"] for e in llm].count("analysis") == 1
    assert sum(e["event"] == "critique" for e in journal) == 4
    # the analysis is appended to the feedback of round 1
    assert ANALYSIS in json.dumps(recorded.fake.completions[-3].body["messages"])
    record = read_record(recorded.out / "llm" / "requests.jsonl")
    assert sum(len(v) for v in record.values()) == 7
    critique_keys = [k for k, v in record.items() if v[0]["kind"] == "critique"]
    assert all(len(record[k]) == 2 for k in critique_keys)  # round 1 repeats round 0's programs
    assert [e["occurrence"] for e in record[critique_keys[0]]] == [0, 1]


def test_the_api_key_never_reaches_the_run_folder(recorded):
    assert recorded.proc.returncode == 0, recorded.proc.stderr
    # the server did get it: the test would be meaningless otherwise
    assert recorded.fake.completions[0].headers["authorization"] == f"Bearer {SECRET}"
    files = [p for p in recorded.out.rglob("*") if p.is_file()]
    assert len(files) > 10
    leaks = [str(p) for p in files if SECRET.encode() in p.read_bytes()]
    assert leaks == []
    assert SECRET not in recorded.proc.stdout + recorded.proc.stderr


def test_replay_makes_no_requests_and_yields_the_same_candidates(recorded, tmp_path):
    assert recorded.proc.returncode == 0, recorded.proc.stderr
    fake, stop = start()
    try:
        out = tmp_path / "replayed"
        proc = t2r(*RUN, "--model", MODEL, "--api-base", fake.api_base, "--replay",
                   str(recorded.out), "--out", str(out),
                   env={"OPENAI_API_KEY": None, "XDG_CACHE_HOME": str(tmp_path / "cache")})
        assert proc.returncode == 0, proc.stderr
        assert fake.requests == []  # zero HTTP requests
    finally:
        stop()
    original = json.loads((recorded.out / "summary.json").read_text())
    replayed = json.loads((out / "summary.json").read_text())
    assert hashes(replayed) == hashes(original) and all(h for r in hashes(replayed) for h in r)
    assert replayed["best"]["code_hash"] == original["best"]["code_hash"]
    usage = replayed["usage"]
    assert usage["replayed_requests"] == usage["requests"] == 7
    assert usage["cost_usd"] == 0 and usage["prompt_tokens"] == 0
    # a replayed run records too, so it can be replayed in turn
    assert sum(len(v) for v in read_record(out / "llm" / "requests.jsonl").values()) == 7


def test_replay_of_a_request_not_in_the_record_is_one_clear_line(recorded, tmp_path):
    proc = t2r(*RUN, "--model", MODEL, "--max-tokens", "999", "--api-base",
               "http://127.0.0.1:9/v1", "--replay", str(recorded.out), "--out",
               str(tmp_path / "r"), env={"OPENAI_API_KEY": None})
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert "is not in the record" in lines[-1] and lines[-1].startswith("error: --replay")


def test_replay_of_a_folder_without_a_record_is_bad_input(tmp_path):
    proc = t2r(*RUN, "--model", MODEL, "--replay", str(tmp_path), "--out", str(tmp_path / "o"),
               env={"OPENAI_API_KEY": None})
    assert proc.returncode == 2 and "requests.jsonl does not exist" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_cache_hit_on_an_identical_run_at_temperature_0(tmp_path, fake_openai):
    args = ["run", "--env", "CartPole-v1", "--task", TASK, "--model", "openai/fake-model",
            "--api-base", fake_openai.api_base, "--samples", "2", "--rounds", "1",
            "--timesteps", "2000", "--temperature", "0"]
    env = {"OPENAI_API_KEY": None, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    first = t2r(*args, "--out", str(tmp_path / "a"), env=env)
    assert first.returncode == 0, first.stderr
    assert len(fake_openai.completions) == 1
    assert list((tmp_path / "xdg" / "text2reward" / "llm").rglob("*.json"))
    second = t2r(*args, "--out", str(tmp_path / "b"), env=env)
    assert second.returncode == 0, second.stderr
    assert len(fake_openai.completions) == 1  # served from the cache: not paid twice
    usage = json.loads((tmp_path / "b" / "summary.json").read_text())["usage"]
    assert usage["cached_requests"] == 1 and usage["cost_usd"] == 0
    third = t2r(*args, "--no-cache", "--out", str(tmp_path / "c"), env=env)
    assert third.returncode == 0, third.stderr
    assert len(fake_openai.completions) == 2


# -- through the designer ------------------------------------------------------------------
@pytest.fixture
def ctx() -> DesignContext:
    spec = load_spec("CartPole-v1")
    task = spec.tasks["balance"]
    return DesignContext(spec, task.description, task, round=0)


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def designer(api_base: str, **kwargs) -> LLMDesigner:
    d = LLMDesigner("openai/fake-model", api_base=api_base, backoff_s=0.01, timeout_s=5.0,
                    **kwargs)
    d.client.sleep = lambda s: None
    return d


def test_the_request_key_is_stable_and_covers_what_decides_a_reply() -> None:
    msgs = [{"role": "user", "content": "x"}]
    key = request_key("m", msgs, 2, 1.0, 100)
    assert key == request_key("m", [{"content": "x", "role": "user"}], 2, 1, 100)
    assert len({key, request_key("m", msgs, 1, 1.0, 100), request_key("m", msgs, 2, 0.0, 100),
                request_key("m", msgs, 2, 1.0, 99), request_key("n", msgs, 2, 1.0, 100)}) == 5


def test_repeated_requests_are_replayed_in_order_of_recording(fake_openai, ctx, tmp_path):
    run = tmp_path / "run"
    fake_openai.queue(Say("no code here"), Say([cartpole_reply(5), cartpole_reply(6)]))
    d = designer(fake_openai.api_base)
    d.attach(run)
    first, _ = d.propose(ctx, 2)
    second, _ = d.propose(ctx, 2)  # the same prompt again: a retried round
    sent = len(fake_openai.completions)
    r = designer("http://127.0.0.1:9/v1", replay=run)
    r.attach(tmp_path / "replay")
    again1, ex1 = r.propose(ctx, 2)
    again2, ex2 = r.propose(ctx, 2)
    assert len(fake_openai.completions) == sent
    assert [c.reply for c in again1] == [c.reply for c in first]
    assert [c.source for c in again2] == [c.source for c in second] and second[0].source
    assert ex1[0].usage["replayed"] and ex1[0].usage["cost_usd"] == 0
    assert ex1[0].usage["saved"]["prompt_tokens"] > 0
    with pytest.raises(LLMError, match="recorded only 2 time"):
        r.propose(ctx, 2)


def test_parallel_samples_replay_in_the_same_order(fake_openai, ctx, tmp_path):
    d = designer(fake_openai.api_base, n_supported=False)
    d.attach(tmp_path / "run")
    counter = itertools.count()
    fake_openai.replies = lambda i, body: cartpole_reply(next(counter))
    first, _ = d.propose(ctx, 3)
    r = designer("http://127.0.0.1:9/v1", n_supported=False, replay=tmp_path / "run")
    again, _ = r.propose(ctx, 3)
    assert [c.source for c in again] == [c.source for c in first]
    assert len({c.source for c in first}) == 3


def test_cache_serves_temperature_0_only(fake_openai, ctx, tmp_path):
    cold = designer(fake_openai.api_base, temperature=0, cache=True, cache_dir=tmp_path)
    cold.propose(ctx, 2)
    warm = designer(fake_openai.api_base, temperature=0, cache=True, cache_dir=tmp_path)
    candidates, exchanges = warm.propose(ctx, 2)
    assert len(fake_openai.completions) == 1 and len(candidates) == 2
    assert exchanges[0].usage["cached"] and exchanges[0].usage["cost_usd"] == 0
    hot = designer(fake_openai.api_base, temperature=1.0, cache=True, cache_dir=tmp_path)
    hot.propose(ctx, 2)
    hot.propose(ctx, 2)
    assert len(fake_openai.completions) == 3  # samples at temperature 1 are never cached
    off = designer(fake_openai.api_base, temperature=0, cache=False, cache_dir=tmp_path)
    off.propose(ctx, 2)
    assert len(fake_openai.completions) == 4


def test_a_resumed_run_reuses_its_own_recorded_samples(fake_openai, ctx, tmp_path):
    d = designer(fake_openai.api_base)
    d.attach(tmp_path)
    first, _ = d.propose(ctx, 2)
    again = designer(fake_openai.api_base)  # a new process on the same run folder
    again.attach(tmp_path)
    second, exchanges = again.propose(ctx, 2)
    assert len(fake_openai.completions) == 1 and exchanges[0].usage["cached"]
    assert [c.source for c in second] == [c.source for c in first]
    third, _ = again.propose(ctx, 2)  # a new occurrence: a fresh sample is paid for
    assert len(fake_openai.completions) == 2


def test_default_cache_dir_honours_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "text2reward" / "llm"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "text2reward" / "llm"


def test_missing_replay_record_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="requests.jsonl does not exist"):
        designer("http://127.0.0.1:9/v1", replay=tmp_path)


# -- history, self-critique, analysis ------------------------------------------------------
def program(weight: float) -> str:
    return ("import numpy as np\n\ndef compute_reward(state, action, next_state):\n"
            f"    r = {weight} * np.cos(next_state.pole_angle)\n    return r, {{'up': r}}")


def test_history_shows_earlier_bests_oldest_first(ctx):
    ctx.round = 3
    ctx.history = [Feedback(program(1), "oldest stats"), Feedback(program(2), "older stats")]
    ctx.feedback = Feedback(program(3), "latest stats")
    messages = feedback_messages(ctx)
    assert [m["role"] for m in messages] == ["system", "user"] + ["assistant", "user"] * 3
    assert "1 * np.cos" in messages[2]["content"] and "oldest stats" in messages[3]["content"]
    assert "2 * np.cos" in messages[4]["content"] and "older stats" in messages[5]["content"]
    assert "3 * np.cos" in messages[6]["content"] and "latest stats" in messages[7]["content"]
    assert "earlier round" in messages[3]["content"]
    ctx.history = []  # history 1: Eureka's conversation
    assert len(feedback_messages(ctx)) == 4


@pytest.mark.parametrize("history, expected", [(1, []), (2, ["b"]), (3, ["a", "b"]),
                                               (9, ["a", "b"])])
def test_the_loop_passes_the_last_rounds_bests(history, expected):
    review = Review(SimpleNamespace(config=SimpleNamespace(history=history)), None)
    fb = {name: Feedback(name, f"{name} stats") for name in ("a", "b", "best")}
    review.round_bests = [fb["a"], None, fb["best"], fb["b"], fb["b"]]
    assert [f.source for f in review.history(fb["best"])] == expected
    assert review.history(None) == []


def test_self_critique_keeps_or_revises(fake_openai, ctx):
    d = designer(fake_openai.api_base)
    cand = Candidate(program(1), origin="llm")
    fake_openai.queue(Say("OK"), Say(f"The sign is wrong.\n```python\n{program(-1)}\n```"))
    kept, exchanges = d.critique(ctx, cand)
    assert kept is None and exchanges[0].kind == "critique"
    assert program(1) in fake_openai.completions[0].body["messages"][-1]["content"]
    revised, _ = d.critique(ctx, cand)
    assert revised.source.strip() == program(-1) and revised.origin == "llm-critique"


def test_analysis_is_text_about_the_best_program(fake_openai, ctx):
    fake_openai.queue(Say("It drifts."))
    text, exchanges = designer(fake_openai.api_base).analyse(ctx, Feedback(program(2), "stats!"))
    sent = fake_openai.completions[0].body["messages"][-1]["content"]
    assert text == "It drifts." and "stats!" in sent and "2 * np.cos" in sent
    assert exchanges[0].kind == "analysis"
