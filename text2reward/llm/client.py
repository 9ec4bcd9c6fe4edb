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
_PREFIX = re.compile(r"^(?:(?:litellm\.)?\w+(?:Error|Exception)(?::| -) )+")
Messages = list[dict[str, str]]


class LLMClient:
    """Sends chat requests for one model; every request becomes one ``Exchange``."""

    def __init__(
        self,
        model: str,
        api_base: str | None = None,
        temperature: float = 1.0,
        max_tokens: int = 1500,
        timeout_s: float = 120,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        n_supported: bool | None = None,
        max_parallel: int = 8,
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

    # -- credentials ---------------------------------------------------------------------

    def check_credentials(self) -> None:
        """Raise MissingKeyError when a remote model's API key is not in the environment."""
        if self.api_base or self.provider in LOCAL_PROVIDERS:
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
        with ThreadPoolExecutor(max_workers=min(count, self.max_parallel)) as pool:
            futures = [pool.submit(self.complete, kind, messages) for _ in range(count)]
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
        """One request (retried on transient failures) for ``n`` replies."""
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
