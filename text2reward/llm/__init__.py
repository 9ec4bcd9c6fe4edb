"""Language-model designer: prompts, reply extraction and a retrying litellm client.

Names are imported lazily: importing litellm takes seconds, and the offline path never needs it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LLMDesigner", "LLMClient", "extract_program"]


def __getattr__(name: str) -> Any:
    if name == "LLMDesigner":
        from text2reward.llm.designer import LLMDesigner

        return LLMDesigner
    if name == "LLMClient":
        from text2reward.llm.client import LLMClient

        return LLMClient
    if name == "extract_program":
        from text2reward.llm.extract import extract_program

        return extract_program
    raise AttributeError(f"module 'text2reward.llm' has no attribute {name!r}")
