"""Language: a prompt read into a scene graph (objects, counts, colours, relations) and back into words.

`scene` is the graph and GenEval's vocabulary (it reads nothing: stdlib only), `rules` GenEval's
scoring rules, `edits` the refine instructions and their sentences, `reader/` the prompt reader
(spaCy via `nlp`, word lists in `lexicon`), which builds on all of them. This face names what
the rest of the studio reads and writes with; importing it does not load spaCy.

Example::

    from studio.language import edit_text, parse_edit, parse_prompt

    parse_prompt("a cat left of a dog").relations  # [Relation(subject=0, relation='left of', anchor=1)]
    edit_text(parse_edit("make the cup blue"))  # 'recolor the cup to blue'
"""

from .edits import Edit, edit_text
from .reader import parse_description, parse_edit, parse_prompt
from .scene import ObjectGroup, Relation, SceneGraph

__all__ = [
    "Edit",
    "ObjectGroup",
    "Relation",
    "SceneGraph",
    "edit_text",
    "parse_description",
    "parse_edit",
    "parse_prompt",
]
