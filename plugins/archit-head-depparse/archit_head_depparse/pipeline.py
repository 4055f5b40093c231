"""``pipeline("dependency-parsing", model=...)``: per word its head (0: the root, ``j``: word ``j``) and relation."""

from __future__ import annotations

from archit_core.pipelines import WordPipeline

from .decoding import decode


class DependencyParsingPipeline(WordPipeline):
    """Parses a sentence or a list of words; ``algorithm`` as in :func:`archit_head_depparse.decoding.decode`."""

    options = ("algorithm",)

    def predict(self, logits, words, algorithm="chu-liu-edmonds"):
        heads, relations = decode(logits, algorithm=algorithm)
        return [{"word": word, "head": head, "relation": self.label(relation)}
                for word, head, relation in zip(words, heads[0].tolist(), relations[0].tolist())]
