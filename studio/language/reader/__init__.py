"""The prompt reader: text -> scene graph, spaCy's parse of the sentence combined with rules over it.

`read(text)` is the whole reading; `Reader` holds one text's words and their annotations.
"""

from .reader import Reader, read

__all__ = ["Reader", "read"]
