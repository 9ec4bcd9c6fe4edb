"""The LLM designer: proposes reward programs with a language model and repairs refused ones."""

from __future__ import annotations

from pathlib import Path

from text2reward.critic.adapt import adapt
from text2reward.designer import Candidate, DesignContext, Exchange, Feedback
from text2reward.llm.client import DEFAULT_MAX_TOKENS, LLMClient
from text2reward.llm.extract import extract, extract_program
from text2reward.llm.prompts import (
    analysis_messages,
    critique_messages,
    feedback_messages,
    first_messages,
    repair_messages,
    retry_messages,
)
from text2reward.llm.record import Sources


class LLMDesigner:
    """A ``Designer`` backed by any litellm model (remote, or local via ``api_base``).

    ``model`` is a litellm model string (``openai/gpt-4o-mini``, ``anthropic/...``,
    ``ollama_chat/llama3.1``, or ``openai/NAME`` / ``hosted_vllm/NAME`` with ``api_base``).
    """

    name = "llm"

    def __init__(
        self,
        model: str,
        api_base: str | None = None,
        temperature: float = 1.0,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        timeout_s: float = 120,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        n_supported: bool | None = None,
        max_parallel: int = 8,
        replay: str | Path | None = None,
        cache: bool = False,
        cache_dir: str | Path | None = None,
    ):
        self.model = model
        self.client = LLMClient(
            model, api_base=api_base, temperature=temperature, max_tokens=max_tokens,
            timeout_s=timeout_s, max_retries=max_retries, backoff_s=backoff_s,
            n_supported=n_supported, max_parallel=max_parallel,
            sources=Sources(replay=replay, cache_dir=cache_dir, cache=cache),
        )

    def attach(self, run_dir: Path) -> None:
        """Record every request into ``run_dir/llm/requests.jsonl`` (and serve a resumed
        run's own earlier requests from it)."""
        self.client.sources.attach(run_dir)

    def check_credentials(self) -> None:
        """Raise MissingKeyError when the model needs an API key that is not exported."""
        self.client.check_credentials()

    def propose(self, ctx: DesignContext, k: int) -> tuple[list[Candidate], list[Exchange]]:
        """``k`` candidates: round 0 from the task, later rounds from the best program."""
        messages = first_messages(ctx) if ctx.feedback is None else feedback_messages(ctx)
        exchanges, errors = self.client.sample("propose", messages, k)
        candidates = [c for e in exchanges for c in self._candidates(e, "llm")][:k]
        while len(candidates) < k:
            error = errors[len(candidates) % len(errors)] if errors else "no reply came back"
            candidates.append(Candidate(None, None, f"the request failed: {error}", "llm"))
        return candidates, exchanges

    def repair(
        self, ctx: DesignContext, candidate: Candidate, error: str
    ) -> tuple[Candidate, list[Exchange]]:
        """One request showing the refused program, its lines numbered, and every finding;
        for a reply without a usable program, the reply and why it could not be used (a
        reply cut off at max_tokens is asked for a shorter one)."""
        if candidate.source is not None:
            messages = repair_messages(ctx, candidate.source, error)
        else:
            kind = (candidate.extraction or {}).get("kind")
            messages = retry_messages(ctx, candidate.reply, error,
                                      echo=kind not in ("truncated_reasoning", "truncated"))
        exchange = self.client.complete("repair", messages)
        found = self._candidates(exchange, "llm-repair")
        repaired = found[0] if found else Candidate(None, None, "the model sent no reply",
                                                    "llm-repair")
        return repaired, [exchange]

    def critique(self, ctx: DesignContext, candidate: Candidate
                 ) -> tuple[Candidate | None, list[Exchange]]:
        """Auto MC-Reward's reward critic: ask the model whether an accepted program matches
        the task. Returns a revised candidate when it answers with code, None when it
        answers that the program is right."""
        exchange = self.client.complete("critique", critique_messages(ctx, candidate.source or ""))
        reply = exchange.replies[0] if exchange.replies else ""
        code, _ = extract_program(reply)
        if code is None or code.strip() == (candidate.source or "").strip():
            return None, [exchange]
        return Candidate(code, reply, None, "llm-critique", candidate.params), [exchange]

    def analyse(self, ctx: DesignContext, feedback: Feedback) -> tuple[str, list[Exchange]]:
        """Auto MC-Reward's trajectory analyzer: a short analysis, in words, of why the best
        program's policy behaved as the statistics show (appended to the feedback)."""
        exchange = self.client.complete("analysis", analysis_messages(ctx, feedback))
        reply = exchange.replies[0] if exchange.replies else ""
        return reply.strip(), [exchange]

    def _candidates(self, exchange: Exchange, origin: str) -> list[Candidate]:
        reasons = exchange.usage.get("finish_reasons") or []
        return [self.candidate(reply, reasons[i] if i < len(reasons) else None, origin)
                for i, reply in enumerate(exchange.replies)]

    def candidate(self, reply: str, finish_reason: str | None, origin: str) -> Candidate:
        """The program meant by ``reply``, its harmless habits adapted, with a record of
        which block was taken, why, and what was changed (``Candidate.extraction``)."""
        found = extract(reply, finish_reason)
        record = {**found.as_dict(), "finish_reason": finish_reason, "adapted": []}
        error = found.error
        if error and finish_reason == "length":
            error = error.replace("at max_tokens", f"at max_tokens={self.client.max_tokens}")
        code = found.code
        if code is not None:
            code, record["adapted"] = adapt(code)
        return Candidate(code, reply, error, origin, extraction=record)
