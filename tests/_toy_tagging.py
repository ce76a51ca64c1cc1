"""Tiny tagged corpora for the tagger tests: tags depend on the word and the previous tag, with noise."""


def noisy_tags(rng, X, n_tags, p_rule=0.7):
    """For each sentence of ``X`` (lists of word ids), tags ``(w + previous tag) % n_tags`` with probability
    ``p_rule``, else uniform; the tag before a sentence is 0."""
    y = []
    for xs in X:
        ys, prev = [], 0
        for w in xs:
            t = (w + prev) % n_tags if rng.random() < p_rule else int(rng.integers(n_tags))
            ys.append(t)
            prev = t
        y.append(ys)
    return y
