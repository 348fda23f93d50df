"""Shared contract checks for tokenizers (STYLE.md item 11).

Each check takes the tokenizer and a message and raises AssertionError on failure:
offsets slice back to the token text, no empty or whitespace tokens, tokens in order
without overlap, and tokenizing twice gives the same result.
"""

from __future__ import annotations

from typing import Callable, List

from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message


def check_offsets_slice_back(tokenizer: Tokenizer, message: Message) -> None:
    """``text[start:end] == token.text`` for every token."""
    text = message.get(TEXT)
    for token in tokenizer.tokenize(message, TEXT):
        assert text[token.start : token.end] == token.text, (token.text, token.start, token.end)


def check_no_empty_tokens(tokenizer: Tokenizer, message: Message) -> None:
    """No token is empty or whitespace only."""
    for token in tokenizer.tokenize(message, TEXT):
        assert token.text and token.text.strip(), repr(token.text)


def check_ordered_without_overlap(tokenizer: Tokenizer, message: Message) -> None:
    """Tokens are in text order and do not overlap."""
    tokens: List[Token] = tokenizer.tokenize(message, TEXT)
    for left, right in zip(tokens, tokens[1:]):
        assert left.end <= right.start, (left.text, right.text)


def check_idempotent(tokenizer: Tokenizer, message: Message) -> None:
    """``process`` twice on the same message gives the same tokens."""
    tokenizer.process([message])
    first = [(t.text, t.start, t.end) for t in message.get(TOKENS_NAMES[TEXT])]
    tokenizer.process([message])
    second = [(t.text, t.start, t.end) for t in message.get(TOKENS_NAMES[TEXT])]
    assert first == second


TOKENIZER_CHECKS: List[Callable[[Tokenizer, Message], None]] = [
    check_offsets_slice_back,
    check_no_empty_tokens,
    check_ordered_without_overlap,
    check_idempotent,
]
