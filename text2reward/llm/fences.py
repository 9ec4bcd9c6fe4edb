"""Split a model's reply into prose and fenced blocks, as a markdown reader would.

Handles what real replies hold: ``` and ~~~ fences of any length (a fence closes only on a
bare fence line at least as long), a markdown wrapper (````markdown or ```md) around the
whole answer whose inner blocks are the real ones, a closing fence glued to the last code line
(``return r, c```), a fence opened at the end of a prose line, indented fences in lists, CRLF
line ends, and reasoning in ``<think>`` tags (closed, never closed, or only closed).
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<tag>[^\s`~]*)[^`]*$")
_LATE_FENCE = re.compile(r"^(?P<prose>.*\S)[ \t]*(?P<fence>`{3,})(?P<tag>[A-Za-z0-9_+-]*)[ \t]*$")
_REASONING = ("think", "thinking", "reasoning")
_OPEN = re.compile(r"<(think|thinking|reasoning)>", re.IGNORECASE)
WRAPPER_TAGS = {"markdown", "md", "text", "txt", ""}


@dataclass
class Block:
    """One fenced block: its code, its info-string tag, whether it was closed, and the prose
    that introduces it (the text since the previous block)."""

    code: str
    tag: str
    closed: bool
    intro: str = ""


@dataclass
class Reasoning:
    """What was done with reasoning tags: the answer text left, and how the tags ended."""

    text: str
    state: str  # "none", "closed", "unclosed" (opened, never closed), "orphan" (only closed)


def strip_reasoning(reply: str) -> Reasoning:
    """Remove ``<think>...</think>`` (and <thinking>, <reasoning>) from a reply.

    A tag opened and never closed leaves the text after it (the model may have forgotten to
    close it; whether it was cut off is for ``finish_reason`` to say). A closing tag with no
    opening (servers that strip the opening tag) drops everything before it."""
    text = reply.replace("\r\n", "\n").replace("\r", "\n")
    state = "none"
    for tag in _REASONING:
        closed = re.compile(rf"<{tag}>.*?</{tag}>", re.DOTALL | re.IGNORECASE)
        text, count = closed.subn("", text)
        state = "closed" if count else state
    for tag in _REASONING:
        close = re.search(rf"</{tag}>", text, re.IGNORECASE)
        if close:
            text, state = text[close.end():], "orphan"
    opened = _OPEN.search(text)
    if opened:
        text, state = text[:opened.start()] + text[opened.end():], "unclosed"
    return Reasoning(text.strip(), state)


def split_blocks(text: str) -> tuple[list[Block], str]:
    """The fenced blocks of ``text`` in order (wrappers opened), and the prose after the last
    one. An unclosed last fence runs to the end of the text."""
    blocks: list[Block] = []
    lines = _unglue_openings(text.splitlines())
    prose: list[str] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            prose.append(lines[i])
            i += 1
            continue
        fence, tag = match.group("fence"), match.group("tag").lower()
        body, closed, i = _body(lines, i + 1, fence, nested=tag in WRAPPER_TAGS)
        inner = "\n".join(body)
        if tag in WRAPPER_TAGS and any(_FENCE.match(line) for line in body):
            nested, tail = split_blocks(inner)
            if nested:
                nested[0].intro = "\n".join(prose) + "\n" + nested[0].intro
                blocks += nested
                prose = [tail]
                continue
        blocks.append(Block(dedent(inner), tag, closed, "\n".join(prose).strip()))
        prose = []
    return blocks, "\n".join(prose).strip()


def _body(lines: list[str], i: int, fence: str, nested: bool) -> tuple[list[str], bool, int]:
    """Lines of a block opened by ``fence`` from line ``i``: (body, closed, next line).

    In a wrapper (``nested``), inner fences open and close blocks of their own, so the
    wrapper closes only on a bare fence line once they are balanced."""
    char, depth, body = fence[0], 0, []
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        closes = stripped.startswith(char * len(fence)) and not stripped.strip(char)
        if closes and depth == 0:
            return body, True, i + 1
        if nested and (match := _FENCE.match(line)) and match.group("fence")[0] == char:
            depth += -1 if not match.group("tag") and depth > 0 else 1
        body.append(line)
        i += 1
    return body, False, i


def _unglue_openings(lines: list[str]) -> list[str]:
    """A fence at the end of a line with text before it (``Here:```python``, or a closing
    fence glued to the last code line, ``return r, c```)`` becomes two lines. Lines with
    inline fenced spans (two or more fences) are prose and stay."""
    out: list[str] = []
    for line in lines:
        match = _LATE_FENCE.match(line)
        if match and not _FENCE.match(line) and len(re.findall(r"`{3,}", line)) == 1:
            out += [match.group("prose"), match.group("fence") + match.group("tag")]
        else:
            out.append(line)
    return out


def dedent(code: str) -> str:
    """Remove common indentation and surrounding blank lines."""
    return textwrap.dedent(code).strip("\n")
