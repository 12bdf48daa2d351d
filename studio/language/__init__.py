"""Language: a prompt read into a scene graph (objects, counts, colours, relations) and back into words.

`scene` is the graph and GenEval's vocabulary, `rules` GenEval's scoring rules, `edits` the refine
instructions, `reader/` the prompt reader (spaCy via `nlp`, word lists in `lexicon`).
"""
