"""Prepare a server process before its first request: build what validation needs, then keep
the garbage collector off the objects that live as long as the process.

A validation allocates thousands of short-lived objects, so Python's cyclic garbage collector
runs several times per request; every few requests it runs a full collection, which visits
every object of the process (modules, the terminology, code-set expansions, the web
framework): about 50 ms on our development machine, half again the time of a validation, and
the whole of the p95 latency above the median. :func:`prepare_process` validates a small
criteria file once (the parser, the terminology service and the caches are built), collects
what that left, then freezes the surviving objects (:func:`gc.freeze`): later collections
skip them, and a full one costs well under a millisecond. Objects made later (requests) are
collected as usual.

    >>> import gc
    >>> prepare_process()
    >>> gc.get_freeze_count() > 0
    True
    >>> gc.unfreeze()  # (a test process goes on making and dropping long-lived objects)
"""

from __future__ import annotations

import gc

SAMPLE = """study "warm-up" version 1
codes t2d = icd10 E11 and descendants, icpc2 T90
codes metformin = atc A10BA02
define older = age at index >= 50
inclusion
  diabetic: has diagnosis t2d within 5 years before index
  treated: at least 2 prescriptions of metformin within 12 months before index
  hba1c: latest lab loinc 4548-4 within 12 months before index >= 7.0 %
  age: older or sex is female
exclusion
  young: age at index < 18
"""
"""A small valid file that goes through every stage of a validation."""


def prepare_process() -> None:
    """Build the validation's parser and terminology, then freeze the long-lived objects.

    Called once per server process, just before it serves (``p4dp serve``, each worker of
    ``p4dp serve --workers N``); calling it again freezes what was made since.
    """
    from matcher.api.criteria import check_criteria, report_of

    report_of(check_criteria(SAMPLE, "warm-up.p4dp"))
    gc.collect()
    gc.freeze()
