"""Shared fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm must not fetch on import
# Runs in tests name their winner from the search alone (tests/test_reeval.py unsets this):
# the re-evaluation over seeds would add four trainings to every toy run.
os.environ.setdefault("TEXT2REWARD_REEVAL_SEEDS", "1")

from fake_openai import FakeOpenAI, start  # noqa: E402


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A scripted OpenAI-compatible server on 127.0.0.1; use ``fake_openai.api_base``."""
    fake, stop = start()
    try:
        yield fake
    finally:
        stop()
