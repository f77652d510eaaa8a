"""The practice kit: what runs on a practice's own machine, next to the GP's record software.

It turns the record software's export into a pseudonymised upload (:mod:`.extract`), maps a
signed candidate list back to the practice's own patients (:mod:`.reidentify`) and counts what
the physician did with each candidate (:mod:`.feedback`). It never needs the platform's keys,
data or database: only the practice key (``p4dp practice init``), the pseudonymisation
authority's key and the platform's public list-verification key.

>>> from matcher.practice.keys import practice_token
>>> len(practice_token(b"k" * 32, "v1", "000123"))
64
"""
