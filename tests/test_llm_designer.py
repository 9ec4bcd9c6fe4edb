"""LLMDesigner through the real litellm + openai SDK + httpx, against a fake OpenAI server."""

from __future__ import annotations

import pytest
from fake_openai import Fail, FakeOpenAI, Say, Sleep, cartpole_reply

from text2reward.designer import Candidate, DesignContext, Feedback
from text2reward.envs.spec import load_spec
from text2reward.errors import LLMError, MissingKeyError, UsageError
from text2reward.llm.designer import LLMDesigner
from text2reward.llm.prompts import first_messages

MODEL = "openai/fake-model"


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def ctx() -> DesignContext:
    spec = load_spec("CartPole-v1")
    task = spec.tasks["balance"]
    return DesignContext(spec, task.description, task, round=0)


def designer(fake: FakeOpenAI, **kwargs) -> LLMDesigner:
    options = {"backoff_s": 0.01, "timeout_s": 5.0, **kwargs}
    d = LLMDesigner(MODEL, api_base=fake.api_base, **options)
    d.delays = []  # type: ignore[attr-defined]
    d.client.sleep = d.delays.append  # record backoff instead of sleeping
    return d


def test_k_samples_in_one_request(fake_openai: FakeOpenAI, ctx: DesignContext) -> None:
    d = designer(fake_openai)
    candidates, exchanges = d.propose(ctx, 3)
    assert len(fake_openai.completions) == 1
    body = fake_openai.completions[0].body
    assert body["n"] == 3 and body["model"] == "fake-model" and body["max_tokens"] == 8192
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "CartPole-v1" in body["messages"][1]["content"]
    assert len(candidates) == 3 and all(c.source and c.error is None for c in candidates)
    assert len({c.source for c in candidates}) == 3  # the fake varies its programs per choice
    assert all(c.origin == "llm" and "compute_reward" in c.source for c in candidates)
    assert "Here is a reward" not in candidates[0].source
    assert len(exchanges) == 1 and exchanges[0].kind == "propose"
    assert len(exchanges[0].replies) == 3


def test_local_server_gets_a_dummy_key(fake_openai: FakeOpenAI, ctx: DesignContext) -> None:
    designer(fake_openai).propose(ctx, 1)
    assert fake_openai.completions[0].headers["authorization"] == "Bearer none"


def test_usage_flows_into_the_exchange(fake_openai: FakeOpenAI, ctx: DesignContext) -> None:
    _, exchanges = designer(fake_openai).propose(ctx, 2)
    usage = exchanges[0].usage
    body = fake_openai.completions[0].body
    prompt = sum(len(m["content"].split()) + 4 for m in body["messages"])
    completion = sum(len(cartpole_reply(i).split()) for i in range(2))
    assert usage["prompt_tokens"] == prompt and usage["completion_tokens"] == completion
    assert usage["cost_usd"] == 0.0 and usage["priced"] is False  # litellm cannot price it
    assert usage["model"] == MODEL and usage["attempts"] == 1 and usage["latency_s"] >= 0


def test_known_models_are_priced(fake_openai: FakeOpenAI, ctx: DesignContext) -> None:
    d = LLMDesigner("openai/gpt-4o-mini", api_base=fake_openai.api_base)
    _, exchanges = d.propose(ctx, 2)
    assert exchanges[0].usage["priced"] is True and exchanges[0].usage["cost_usd"] > 0


def test_zero_samples(fake_openai: FakeOpenAI, ctx: DesignContext) -> None:
    assert designer(fake_openai).propose(ctx, 0) == ([], [])
    assert not fake_openai.requests


def test_parallel_single_requests_without_n(fake_openai: FakeOpenAI, ctx: DesignContext) -> None:
    d = designer(fake_openai, n_supported=False)
    candidates, exchanges = d.propose(ctx, 3)
    assert len(fake_openai.completions) == 3
    assert all("n" not in r.body for r in fake_openai.completions)
    assert len(exchanges) == 3 and len(candidates) == 3
    assert all(c.source for c in candidates)


def test_providers_without_n_default_to_parallel() -> None:
    assert LLMDesigner("ollama_chat/llama3.1").client.n_supported is False
    assert LLMDesigner("anthropic/claude-3-5-sonnet-latest").client.n_supported is False
    assert LLMDesigner("openai/gpt-4o-mini").client.n_supported is True
    assert LLMDesigner("hosted_vllm/qwen", api_base="http://127.0.0.1:1/v1").client.n_supported


def test_server_ignoring_n_is_topped_up(fake_openai: FakeOpenAI, ctx: DesignContext) -> None:
    fake_openai.queue(Say(cartpole_reply, choices=1))
    d = designer(fake_openai)
    candidates, exchanges = d.propose(ctx, 3)
    assert len(candidates) == 3 and all(c.source for c in candidates)
    assert len(fake_openai.completions) == 3 and len(exchanges) == 3
    assert d.client.n_supported is False


def test_two_rate_limits_then_success(fake_openai: FakeOpenAI, ctx: DesignContext) -> None:
    fake_openai.queue(Fail(429), Fail(429))
    d = designer(fake_openai)
    candidates, exchanges = d.propose(ctx, 2)
    assert len(fake_openai.completions) == 3  # no hidden SDK retries on top of ours
    assert exchanges[0].usage["attempts"] == 3 and len(candidates) == 2
    first, second = d.delays
    assert 0.01 <= first <= 0.02 and 0.02 <= second <= 0.04  # exponential with jitter


def test_retry_after_is_honoured(fake_openai: FakeOpenAI, ctx: DesignContext) -> None:
    fake_openai.queue(Fail(429, retry_after=0.3))
    d = designer(fake_openai)
    d.propose(ctx, 1)
    assert d.delays == [pytest.approx(0.3)]


def test_server_error_then_success(fake_openai: FakeOpenAI, ctx: DesignContext) -> None:
    fake_openai.queue(Fail(500))
    candidates, exchanges = designer(fake_openai).propose(ctx, 2)
    assert exchanges[0].usage["attempts"] == 2 and all(c.source for c in candidates)


def test_timeout_is_retried(fake_openai: FakeOpenAI, ctx: DesignContext) -> None:
    fake_openai.queue(Sleep(1.5))
    candidates, exchanges = designer(fake_openai, timeout_s=0.5).propose(ctx, 1)
    assert exchanges[0].usage["attempts"] == 2 and candidates[0].source


@pytest.mark.parametrize("status, words", [
    (401, "API key was refused"),
    (404, "model not found"),
    (400, "context window"),
])
def test_fatal_errors_stop_at_once(fake_openai: FakeOpenAI, ctx: DesignContext,
                                   status: int, words: str) -> None:
    fake_openai.queue(Fail(status))
    with pytest.raises(LLMError) as info:
        designer(fake_openai).propose(ctx, 2)
    assert len(fake_openai.completions) == 1
    message = str(info.value)
    assert words in message and "\n" not in message


def test_retries_run_out(fake_openai: FakeOpenAI, ctx: DesignContext) -> None:
    fake_openai.queue(Fail(503), Fail(503), Fail(503))
    with pytest.raises(LLMError, match="after 3 attempts"):
        designer(fake_openai, max_retries=2).propose(ctx, 2)
    assert len(fake_openai.completions) == 3


def test_unreachable_server(ctx: DesignContext) -> None:
    d = LLMDesigner(MODEL, api_base="http://127.0.0.1:9/v1", backoff_s=0.001, max_retries=1)
    with pytest.raises(LLMError, match="cannot reach http://127.0.0.1:9/v1"):
        d.propose(ctx, 1)


def test_one_failed_parallel_request_is_a_failed_candidate(
    fake_openai: FakeOpenAI, ctx: DesignContext
) -> None:
    fake_openai.queue(Fail(500))
    d = designer(fake_openai, n_supported=False, max_retries=0, max_parallel=1)
    candidates, exchanges = d.propose(ctx, 2)
    assert len(candidates) == 2 and len(exchanges) == 1
    failed = [c for c in candidates if c.source is None]
    assert len(failed) == 1 and "the request failed" in failed[0].error


def test_reply_without_code_is_a_failed_candidate(
    fake_openai: FakeOpenAI, ctx: DesignContext
) -> None:
    fake_openai.queue(Say(["I would reward keeping the pole upright.", cartpole_reply(0)]))
    candidates, _ = designer(fake_openai).propose(ctx, 2)
    assert candidates[0].source is None
    assert candidates[0].error == "the reply contains no code block defining compute_reward"
    assert candidates[0].reply == "I would reward keeping the pole upright."
    assert candidates[1].source is not None


def test_cut_off_reply_names_max_tokens(fake_openai: FakeOpenAI, ctx: DesignContext) -> None:
    fake_openai.queue(Say("```python\nimport numpy as np\ndef compute_reward(state, action, n",
                          finish_reason="length"))
    candidates, _ = designer(fake_openai, max_tokens=20).propose(ctx, 1)
    assert candidates[0].source is None and "max_tokens=20" in candidates[0].error


def test_feedback_round_sends_best_program_and_human_words(
    fake_openai: FakeOpenAI, ctx: DesignContext
) -> None:
    best = "import numpy as np\n\ndef compute_reward(state, action, next_state):\n    return 0, {}"
    ctx.round, ctx.feedback = 2, Feedback(best, "success 120 of 475; upright barely changed",
                                          human="the cart drifts to the left wall")
    designer(fake_openai).propose(ctx, 2)
    messages = fake_openai.completions[0].body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert best in messages[2]["content"] and "```python" in messages[2]["content"]
    assert "upright barely changed" in messages[3]["content"]
    assert "the cart drifts to the left wall" in messages[3]["content"]


def test_repair_sends_the_exact_error(fake_openai: FakeOpenAI, ctx: DesignContext) -> None:
    broken = Candidate("import os\n\ndef compute_reward(state, action, next_state):\n    return 0",
                       origin="llm")
    error = "line 1: import os: only numpy and math may be imported"
    repaired, exchanges = designer(fake_openai).repair(ctx, broken, error)
    body = fake_openai.completions[0].body
    assert "n" not in body and error in body["messages"][-1]["content"]
    assert "import os" in body["messages"][-1]["content"]
    assert repaired.source and repaired.origin == "llm-repair"
    assert exchanges[0].kind == "repair"


def test_key_is_sent_but_never_recorded(fake_openai: FakeOpenAI, ctx: DesignContext,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-123")
    _, exchanges = designer(fake_openai).propose(ctx, 1)
    assert fake_openai.completions[0].headers["authorization"] == "Bearer sk-test-secret-123"
    assert "sk-test-secret-123" not in repr(exchanges)


def test_missing_key_for_a_remote_model() -> None:
    with pytest.raises(MissingKeyError, match="OPENAI_API_KEY is not set.*--api-base.*offline"):
        LLMDesigner("openai/gpt-4o-mini").check_credentials()


def test_no_key_needed_for_local_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    LLMDesigner(MODEL, api_base="http://127.0.0.1:1/v1").check_credentials()
    LLMDesigner("ollama_chat/llama3.1").check_credentials()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    LLMDesigner("openai/gpt-4o-mini").check_credentials()


def test_unknown_provider_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="provider/model"):
        LLMDesigner("no-such-model-xyz")


def test_first_prompt_fits_the_budget(ctx: DesignContext) -> None:
    import litellm

    messages = first_messages(ctx)
    assert litellm.token_counter(model="gpt-4o-mini", messages=messages) < 2500
    assert "success" not in messages[1]["content"].lower()  # the score function stays hidden


# -- replies as real models write them, served through the real client ----------------------

DENSE = ("import numpy as np\n\n\ndef compute_reward(state, action, next_state):\n"
         "    upright = np.cos(next_state.pole_angle)\n"
         '    return upright, {"upright": upright}\n')
SPARSE = ("import numpy as np\n\n\ndef compute_reward(state, action, next_state):\n"
          "    alive = np.ones_like(next_state.pole_angle)\n"
          '    return alive, {"alive": alive}\n')
STYLES = {
    "alternative": (f"I recommend this dense reward:\n```python\n{DENSE}```\n"
                    f"Alternatively, only as a sparse baseline:\n```python\n{SPARSE}```\n"),
    "think": (f"<think>\nA sparse reward?\n```python\n{SPARSE}```\nNo.\n</think>\n"
              f"```python\n{DENSE}```"),
    "wrapped": f"````markdown\n# Reward\n```python\n{DENSE}```\n````",
    "glued": f"```python\n{DENSE.rstrip()}```",
    "typed_method": ("```python\nfrom typing import Dict, Tuple\nimport numpy as np\n\n\n"
                     "def compute_reward(self, state, action, next_state, debug=False) -> "
                     "Tuple[np.ndarray, Dict[str, np.ndarray]]:\n"
                     "    upright = np.cos(next_state.pole_angle)\n    healthy = 1.0\n"
                     '    return upright + healthy, {"upright": upright, "healthy": healthy}\n\n\n'
                     'if __name__ == "__main__":\n    print("ok")\n```'),
}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_reply_styles_give_the_meant_program_accepted_by_the_static_critic(
        fake_openai: FakeOpenAI, ctx: DesignContext, style: str) -> None:
    from text2reward.critic.static import check_source

    fake_openai.queue(Say(STYLES[style]))
    candidates, _ = designer(fake_openai).propose(ctx, 1)
    cand = candidates[0]
    assert cand.source is not None, cand.error
    assert check_source(cand.source) == [], cand.source
    assert "np.cos" in cand.source and "ones_like" not in cand.source
    assert cand.extraction["finish_reason"] == "stop" and cand.extraction["note"]


def test_adaptations_are_recorded(fake_openai: FakeOpenAI, ctx: DesignContext) -> None:
    fake_openai.queue(Say(STYLES["typed_method"]))
    cand = designer(fake_openai).propose(ctx, 1)[0][0]
    adapted = " | ".join(cand.extraction["adapted"])
    assert "self" in adapted and "debug" in adapted and "__main__" in adapted
    assert "'healthy'" in adapted and "never evaluated" in adapted


def test_cut_off_inside_reasoning_is_asked_again_without_echoing_it(
        fake_openai: FakeOpenAI, ctx: DesignContext) -> None:
    fake_openai.queue(Say("<think>\nLet me consider the cart. The pole", finish_reason="length"))
    d = designer(fake_openai, max_tokens=64)
    cand = d.propose(ctx, 1)[0][0]
    assert cand.source is None and "max_tokens=64 while still reasoning" in cand.error
    d.repair(ctx, cand, cand.error)
    messages = fake_openai.completions[-1].body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "user"]
    assert "still reasoning" in messages[-1]["content"]
    assert "Let me consider" not in str(messages)


def test_cut_off_program_that_parses_is_asked_for_a_shorter_one(
        fake_openai: FakeOpenAI, ctx: DesignContext) -> None:
    partial = DENSE.split("    return")[0]
    fake_openai.queue(Say(f"```python\n{partial}", finish_reason="length"))
    cand = designer(fake_openai, max_tokens=50).propose(ctx, 1)[0][0]
    assert cand.source is None and "cut off at max_tokens=50" in cand.error
    assert "shorter" in cand.error and "tuple" not in cand.error


def test_reply_without_code_is_answered_with_why(fake_openai: FakeOpenAI,
                                                 ctx: DesignContext) -> None:
    fake_openai.queue(Say("Could you tell me which features are available?"))
    d = designer(fake_openai)
    cand = d.propose(ctx, 1)[0][0]
    repaired, _ = d.repair(ctx, cand, cand.error)
    messages = fake_openai.completions[-1].body["messages"]
    assert messages[-2] == {"role": "assistant",
                            "content": "Could you tell me which features are available?"}
    assert "could not be used: the reply contains no code block" in messages[-1]["content"]
    assert repaired.source is not None


def test_repair_prompt_numbers_the_lines(fake_openai: FakeOpenAI, ctx: DesignContext) -> None:
    broken = Candidate("import os\n\ndef compute_reward(state, action, next_state):\n"
                       "    return 0", origin="llm")
    designer(fake_openai).repair(ctx, broken, "line 1: import os: only numpy and math")
    content = fake_openai.completions[-1].body["messages"][-1]["content"]
    assert "1 | import os" in content and "3 | def compute_reward" in content
