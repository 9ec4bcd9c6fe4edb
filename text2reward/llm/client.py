"""Chat completions through litellm, with our own retries, usage accounting and clear errors.

Transient failures (rate limits, 5xx, connection errors, timeouts) are retried with
exponential backoff and jitter, honouring ``Retry-After``; failures retrying cannot fix
(bad key, unknown model, context overflow) raise ``LLMError`` at once with one line naming
the fix. API keys are never recorded.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch on import

import litellm  # noqa: E402
import openai  # noqa: E402

from text2reward.designer import Exchange  # noqa: E402
from text2reward.errors import LLMError, MissingKeyError, UsageError  # noqa: E402
from text2reward.llm.record import Sources, request_key  # noqa: E402

litellm.suppress_debug_info = True

N_PROVIDERS = frozenset({"openai", "azure", "hosted_vllm", "gemini", "text-completion-openai"})
LOCAL_PROVIDERS = frozenset({"ollama", "ollama_chat", "hosted_vllm", "lm_studio", "llamafile"})
RETRYABLE = (
    litellm.RateLimitError,
    litellm.InternalServerError,
    litellm.ServiceUnavailableError,
    litellm.BadGatewayError,
    litellm.APIConnectionError,
    litellm.Timeout,
)
MAX_DELAY_S = 60.0
# Room for reasoning models, which spend thousands of tokens thinking before they answer; a
# reply cut off anyway is answered with a request for a shorter program (llm/designer.py).
DEFAULT_MAX_TOKENS = 8192
_PREFIX = re.compile(r"^(?:(?:litellm\.)?\w+(?:Error|Exception)(?::| -) )+")
Messages = list[dict[str, str]]


class LLMClient:
    """Sends chat requests for one model; every request becomes one ``Exchange``."""

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
        sources: Sources | None = None,
    ):
        self.model = model
        self.api_base = api_base
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_parallel = max_parallel
        self.provider = provider_of(model, api_base)
        self.n_supported = (self.provider in N_PROVIDERS) if n_supported is None else n_supported
        self.sleep: Callable[[float], None] = time.sleep  # replaceable in tests
        # replay, the run's own record and the disk cache (see text2reward.llm.record)
        self.sources = sources or Sources(cache=False)

    # -- credentials ---------------------------------------------------------------------

    def check_credentials(self) -> None:
        """Raise MissingKeyError when a remote model's API key is not in the environment."""
        if self.api_base or self.provider in LOCAL_PROVIDERS or self.sources.replaying:
            return
        report = litellm.validate_environment(self.model)
        missing = report.get("missing_keys") or []
        if not report.get("keys_in_environment") and missing:
            keys = " or ".join(missing)
            raise MissingKeyError(
                f"{keys} is not set: export it, pass --api-base URL for a local "
                f"OpenAI-compatible server, or use --model offline"
            )

    # -- requests ------------------------------------------------------------------------

    def sample(self, kind: str, messages: Messages, k: int) -> tuple[list[Exchange], list[str]]:
        """Ask for ``k`` replies: one request with ``n=k`` where the provider supports it,
        else parallel single requests. Returns the exchanges and the errors of requests that
        failed after their retries (raises LLMError if nothing came back at all)."""
        exchanges: list[Exchange] = []
        errors: list[str] = []
        if k <= 0:
            return exchanges, errors
        if self.n_supported and k > 1:
            exchange = self.complete(kind, messages, n=k)
            exchanges.append(exchange)
            if len(exchange.replies) >= k:
                return exchanges, errors
            self.n_supported = False  # the server ignored n; top up with single requests
        missing = k - sum(len(e.replies) for e in exchanges)
        more, errors = self._parallel(kind, messages, missing)
        exchanges += more
        if not exchanges:
            raise LLMError(errors[0])
        return exchanges, errors

    def _parallel(
        self, kind: str, messages: Messages, count: int
    ) -> tuple[list[Exchange], list[str]]:
        if count <= 0:
            return [], []
        key = self._key(messages, 1)
        occurrences = [self.sources.claim(key) for _ in range(count)]  # in order, so replay
        with ThreadPoolExecutor(max_workers=min(count, self.max_parallel)) as pool:  # maps
            futures = [pool.submit(self._complete, kind, messages, 1, key, occurrence)  # each
                       for occurrence in occurrences]  # sample to the same recorded reply
        exchanges, errors = [], []
        for future in futures:
            exc = future.exception()
            if exc is None:
                exchanges.append(future.result())
            elif isinstance(exc, _Exhausted):
                errors.append(str(exc))
            else:
                raise exc
        return exchanges, errors

    def complete(self, kind: str, messages: Messages, n: int = 1) -> Exchange:
        """One request (retried on transient failures) for ``n`` replies, served from the
        replay record, the run's own record or the cache where one holds it."""
        key = self._key(messages, n)
        return self._complete(kind, messages, n, key, self.sources.claim(key))

    def _key(self, messages: Messages, n: int) -> str:
        return request_key(self.model, messages, n, self.temperature, self.max_tokens)

    def _complete(self, kind: str, messages: Messages, n: int, key: str,
                  occurrence: int) -> Exchange:
        found = self.sources.lookup(key, occurrence, self.temperature,
                                    f"a {kind} request to {self.model} (key {key[:12]})")
        if found is not None:
            entry, how = found
            exchange = _served(kind, messages, entry, how, self.model)
            if how != "resumed":  # a resumed run's own entries are in its record already
                self.sources.record(_entry(key, occurrence, kind, n, self, entry["replies"],
                                           entry.get("usage") or {}, how), self.temperature,
                                    paid=False)
            return exchange
        exchange = self._send(kind, messages, n)
        self.sources.record(_entry(key, occurrence, kind, n, self, exchange.replies,
                                   exchange.usage, None), self.temperature, paid=True)
        return exchange

    def _send(self, kind: str, messages: Messages, n: int) -> Exchange:
        attempts = 0
        started = time.monotonic()
        while True:
            attempts += 1
            try:
                response = litellm.completion(**self._request(messages, n))
                break
            except openai.OpenAIError as exc:
                if not _retryable(exc):
                    raise LLMError(self._fatal(exc)) from None
                if attempts > self.max_retries:
                    raise _Exhausted(self._exhausted(exc, attempts)) from None
                self.sleep(self._delay(attempts, exc))
        return self._exchange(kind, messages, response, attempts, time.monotonic() - started)

    def _request(self, messages: Messages, n: int) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "timeout": self.timeout_s,
            "max_retries": 0,  # retries are ours
        }
        if n > 1:
            request["n"] = n
        if self.api_base:
            request["api_base"] = self.api_base
            if not _key_in_environment(self.model):
                request["api_key"] = "none"  # local servers need no key; the SDK wants one
        return request

    def _delay(self, attempt: int, exc: Exception) -> float:
        backoff = self.backoff_s * 2 ** (attempt - 1) * (1 + random.random())
        wait = retry_after(exc)
        return min(MAX_DELAY_S, max(backoff, wait) if wait is not None else backoff)

    def _exchange(self, kind: str, messages: Messages, response: Any, attempts: int,
                  latency: float) -> Exchange:
        choices = list(getattr(response, "choices", None) or [])
        replies = [(c.message.content or "") if c.message else "" for c in choices]
        usage = getattr(response, "usage", None)
        cost, priced = _cost(response)
        return Exchange(kind, [dict(m) for m in messages], replies, {
            "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
            "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
            "cost_usd": cost,
            "priced": priced,
            "model": self.model,
            "latency_s": round(latency, 3),
            "attempts": attempts,
            "finish_reasons": [getattr(c, "finish_reason", None) for c in choices],
        })

    # -- error messages ------------------------------------------------------------------

    def _exhausted(self, exc: Exception, attempts: int) -> str:
        what = type(exc).__name__
        if isinstance(exc, litellm.APIConnectionError) or "connection error" in str(exc).lower():
            where = self.api_base or f"the {self.provider} API"
            what = "timed out" if isinstance(exc, litellm.Timeout) else f"cannot reach {where}"
        return (f"{self.model}: {what} after {attempts} attempts ({_detail(exc)}); the server "
                f"is overloaded or unreachable: try again later, check --api-base, or lower K")

    def _fatal(self, exc: Exception) -> str:
        m, detail = self.model, _detail(exc)
        if isinstance(exc, litellm.ContextWindowExceededError):
            return (f"{m}: the prompt does not fit the model's context window ({detail}); use a "
                    f"model with a longer context or lower max_tokens")
        if isinstance(exc, litellm.AuthenticationError):
            return (f"{m}: the API key was refused ({detail}); check the key exported for this "
                    f"provider, or pass --api-base URL for a local server")
        if isinstance(exc, litellm.NotFoundError):
            return (f"{m}: model not found ({detail}); check --model (provider/model, e.g. "
                    f"openai/gpt-4o-mini) or the models the server at --api-base offers")
        if isinstance(exc, litellm.PermissionDeniedError):
            return f"{m}: access denied ({detail}); check the account's access to this model"
        if isinstance(exc, litellm.BadRequestError):
            return f"{m}: the request was rejected ({detail}); check --model and its options"
        return f"{m}: {type(exc).__name__} ({detail})"


def _entry(key: str, occurrence: int, kind: str, n: int, client: LLMClient, replies: list[str],
           usage: dict[str, Any], served: str | None) -> dict[str, Any]:
    """One line of ``llm/requests.jsonl``: the request's identity, its replies and usage."""
    kept = ("prompt_tokens", "completion_tokens", "cost_usd", "priced", "finish_reasons")
    return {"key": key, "occurrence": occurrence, "kind": kind, "model": client.model, "n": n,
            "temperature": client.temperature, "max_tokens": client.max_tokens,
            "replies": list(replies), "usage": {k: usage.get(k) for k in kept},
            "served_from": served}


def _served(kind: str, messages: Messages, entry: dict[str, Any], how: str,
            model: str) -> Exchange:
    """An exchange answered from a record or the cache: nothing paid, so tokens and cost are
    0; ``saved`` says what the original request cost."""
    original = entry.get("usage") or {}
    return Exchange(kind, [dict(m) for m in messages], list(entry["replies"]), {
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost_usd": 0.0,
        "priced": True,
        "model": model,
        "latency_s": 0.0,
        "attempts": 0,
        "finish_reasons": original.get("finish_reasons") or [],
        "cached": how in ("cached", "resumed"),
        "replayed": how == "replayed",
        "served_from": {"cached": "cache", "resumed": "run record", "replayed": "replay"}[how],
        "saved": {k: original.get(k) or 0 for k in ("prompt_tokens", "completion_tokens",
                                                    "cost_usd")},
    })


class _Exhausted(LLMError):
    """A transient failure that outlasted every retry."""


def provider_of(model: str, api_base: str | None = None) -> str:
    """litellm's provider name for ``model`` (UsageError when litellm cannot tell)."""
    try:
        return litellm.get_llm_provider(model, api_base=api_base)[1]
    except Exception:  # litellm raises BadRequestError (and sometimes others) here
        raise UsageError(
            f"cannot tell the provider of model {model!r}; name it as provider/model, e.g. "
            f"openai/gpt-4o-mini, anthropic/claude-3-5-sonnet-latest, ollama_chat/llama3.1"
        ) from None


def retry_after(exc: Exception) -> float | None:
    """Seconds a server asked us to wait (``Retry-After`` / ``retry-after-ms``), if any."""
    for headers in (getattr(exc, "litellm_response_headers", None), getattr(exc, "headers", None),
                    getattr(getattr(exc, "response", None), "headers", None)):
        if not headers:
            continue
        try:
            if headers.get("retry-after-ms") is not None:
                return float(headers["retry-after-ms"]) / 1000
            if headers.get("retry-after") is not None:
                return float(headers["retry-after"])
        except (TypeError, ValueError):
            continue
    return None


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, litellm.ContextWindowExceededError):
        return False
    status = getattr(exc, "status_code", None)
    return isinstance(exc, RETRYABLE) or (isinstance(status, int) and status >= 500)


def _key_in_environment(model: str) -> bool:
    try:
        return bool(litellm.validate_environment(model).get("keys_in_environment"))
    except Exception:
        return False


def _cost(response: Any) -> tuple[float, bool]:
    try:
        return float(litellm.completion_cost(completion_response=response)), True
    except Exception:  # litellm cannot price unknown or local models
        return 0.0, False


def _detail(exc: Exception) -> str:
    """The server's own message, on one short line, without litellm's prefixes such as
    ``litellm.RateLimitError: RateLimitError: OpenAIException - ``."""
    lines = str(getattr(exc, "message", None) or exc).strip().splitlines()
    text = _PREFIX.sub("", lines[0] if lines else "")
    return text[:240] or type(exc).__name__
