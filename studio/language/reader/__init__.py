"""The prompt reader: text -> scene graph, spaCy's parse of the sentence combined with rules over it.

`parse_prompt(text)` reads a prompt, `parse_description(text)` a description that repeats its
objects, `parse_edit(text)` a refine instruction; `read(text, merge)` is the reading both prompt
forms share, and `Reader` holds one text's words and their annotations. Importing this package
does not load spaCy: the first reading does (`studio.language.nlp`).

Example::

    from studio.language.reader import parse_prompt

    parse_prompt("a dog but no cat").negated  # [ObjectGroup(cls='cat', count=1, color=None)]
"""

from .instruction import parse_edit
from .parse import parse_description, parse_prompt, read
from .reader import Reader

__all__ = ["Reader", "parse_description", "parse_edit", "parse_prompt", "read"]
