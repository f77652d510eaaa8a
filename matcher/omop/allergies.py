"""OMOP allergies → the contract's optional ``allergies`` table (issue 18).

OMOP has no allergy table. Following the OMOP conventions (THEMIS) and the OHDSI
ETL-Synthea mapping, an allergy is an OBSERVATION row in one of two shapes:

* a **pre-coordinated finding**: the concept is itself "Allergy to <substance>" (SNOMED CT
  91930004 "Allergy to eggs"), as ETL-Synthea writes every Synthea allergy. It is recognised
  through the vocabulary: a concept with a ``Has causative agent`` relationship and a ``Has
  pathology`` relationship to the allergic process (concept :data:`ALLERGIC_PROCESS`). The
  substance is the causative agent; the kind is ``allergy``.
* a **category with its substance as the value**: the concept is a category such as 439224
  "Allergy to drug" and ``value_as_concept_id`` is the substance (an RxNorm ingredient, a
  SNOMED CT substance), as the HL7 FHIR-to-OMOP guide maps an AllergyIntolerance. The
  category gives the kind (:data:`CATEGORY_CODES`, :data:`CATEGORY_CONCEPTS`).

A substance keeps its own code (``snomed``, ``rxnorm``, ``atc``...); a drug also gets its ATC
level-5 codes through the vocabulary, as prescriptions do (the RxNorm ingredient, or the RxNorm
concept a SNOMED CT substance ``Maps to``), each such row carrying ``mapped_from``. Some exports
record allergies in CONDITION_OCCURRENCE: those rows stay diagnoses and also give allergy rows
(counted as derived).

    >>> sorted(k for k, v in CATEGORY_CODES.items() if v == "intolerance")
    ['235719002', '59037007']
"""

from __future__ import annotations

import polars as pl

from matcher.omop.common import optional
from matcher.omop.report import TableReport
from matcher.omop.vocabulary import Vocabulary, _concept_id

ALLERGIC_PROCESS = "43021170"
"""The concept every "Allergy to …" concept of the OMOP vocabulary points to with ``Has
pathology`` (the allergic process); in Synthea27Nj's vocabulary exactly its ten "Allergy to …"
concepts and "Acute allergic reaction" (no causative agent) do."""

CATEGORY_CODES: dict[str, str | None] = {
    "419199007": "allergy",  # Allergy to substance
    "416098002": "allergy",  # Drug allergy
    "414285001": "allergy",  # Food allergy
    "426232007": "allergy",  # Environmental allergy
    "59037007": "intolerance",  # Drug intolerance
    "235719002": "intolerance",  # Food intolerance
    "420134006": None,  # Propensity to adverse reactions
    "418038007": None,  # Propensity to adverse reactions to substance
    "419511003": None,  # Propensity to adverse reactions to drug
    "418471000": None,  # Propensity to adverse reactions to food
}
"""SNOMED CT codes of the allergy categories (the C-CDA allergy-observation value set) → kind;
the substance is the row's ``value_as_concept_id``. A propensity says nothing of the kind."""

CATEGORY_CONCEPTS: dict[str, str | None] = {
    "439224": "allergy",  # Allergy to drug (FHIR category "medication")
    "4188027": "allergy",  # Allergy to food (FHIR category "food")
    "4144450": "allergy",  # Environmental allergy (FHIR category "environment")
    "40772948": "allergy",  # Allergy (the default of some FHIR-to-OMOP converters)
}
"""OMOP concept ids of the categories the HL7 FHIR-to-OMOP guide uses, recognised even when a
vocabulary subset lacks their CONCEPT row."""

ALLERGY_COLUMNS = ("patient_id", "date", "system", "code", "kind", "mapped_from")

_KEYS = ("_allergy_shape", "_allergy_concept", "_allergy_value")
_CODE_SCHEMA = {"system": pl.String, "code": pl.String, "mapped_from": pl.String}
MARK_COLUMNS = (*_KEYS, "_allergy_kind")
"""The columns :func:`mark_allergies` adds (keep them through a ``select``)."""


def allergy_concepts(vocab: Vocabulary) -> pl.LazyFrame:
    """Concepts that denote an allergy: ``concept_id, shape ('category'|'finding'), kind``.

    >>> from matcher.omop.reader import open_source
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "person.csv").write_text("person_id,gender_concept_id,year_of_birth\\n")
    >>> with open_source(d) as src:
    ...     df = allergy_concepts(Vocabulary(src)).collect()
    >>> sorted(df["concept_id"])  # no vocabulary: the published category ids only
    ['40772948', '4144450', '4188027', '439224']
    """
    by_code = vocab.concepts.filter(
        (pl.col("vocabulary_id") == "SNOMED") & pl.col("concept_code").is_in(list(CATEGORY_CODES))
    ).select(
        "concept_id",
        shape=pl.lit("category"),
        kind=pl.col("concept_code").replace_strict(CATEGORY_CODES, return_dtype=pl.String),
    )
    by_id = pl.LazyFrame(
        {
            "concept_id": list(CATEGORY_CONCEPTS),
            "shape": ["category"] * len(CATEGORY_CONCEPTS),
            "kind": list(CATEGORY_CONCEPTS.values()),
        },
        schema={"concept_id": pl.String, "shape": pl.String, "kind": pl.String},
    )
    parts = [by_code, by_id]
    rel = vocab.relationships
    if rel is not None:
        agents = rel.filter(pl.col("relationship_id") == "Has causative agent").select(
            concept_id="concept_id_1"
        )
        allergic = rel.filter(
            (pl.col("relationship_id") == "Has pathology")
            & (pl.col("concept_id_2") == ALLERGIC_PROCESS)
        ).select(concept_id="concept_id_1")
        parts.append(
            agents.join(allergic, on="concept_id", how="semi")
            .unique()
            .select("concept_id", shape=pl.lit("finding"), kind=pl.lit("allergy"))
        )
    return pl.concat(parts).unique(subset="concept_id", keep="first", maintain_order=True)


def mark_allergies(lf: pl.LazyFrame, vocab: Vocabulary, value_id: str | None) -> pl.LazyFrame:
    """Add ``_allergy_shape`` (null: not an allergy), ``_allergy_kind``, ``_allergy_concept``
    and ``_allergy_value`` to an event frame with ``concept_id`` and ``std_concept_id``.

    The resolved concept is tried first, then the standard concept (a category absent from a
    vocabulary subset is still recognised by its id). ``value_id`` names the column holding
    the substance of a category row (``value_as_concept_id``), or None for a table without it.
    """
    known = allergy_concepts(vocab).collect().lazy()  # small: scanned once, joined twice
    for n, column in ((1, "concept_id"), (2, "std_concept_id")):
        lf = lf.join(
            known.rename(lambda c, n=n: f"_a{n}_{c}"),
            left_on=column,
            right_on=f"_a{n}_concept_id",
            how="left",
            maintain_order="left",
            coalesce=False,
        )
    first = pl.col("_a1_shape").is_not_null()
    value = _concept_id(optional(lf, value_id)) if value_id else pl.lit(None, pl.String)
    shape = pl.coalesce("_a1_shape", "_a2_shape")
    return lf.with_columns(
        _allergy_shape=shape,
        _allergy_kind=pl.when(first).then("_a1_kind").otherwise("_a2_kind"),
        _allergy_concept=pl.when(first).then("_a1_concept_id").otherwise("_a2_concept_id"),
        _allergy_value=pl.when(shape == "category").then(value),
    ).drop(pl.selectors.starts_with("_a1_", "_a2_"))


def _substance_ids(vocab: Vocabulary, keys: pl.LazyFrame) -> pl.LazyFrame:
    """``*_KEYS, substance_id``: the causative agents of a finding, the value of a category."""
    category = keys.filter(pl.col("_allergy_shape") == "category").with_columns(
        substance_id=pl.col("_allergy_value")
    )
    parts = [category]
    if vocab.relationships is not None:
        agents = vocab.relationships.filter(
            pl.col("relationship_id") == "Has causative agent"
        ).select(_allergy_concept="concept_id_1", substance_id="concept_id_2")
        parts.append(
            keys.filter(pl.col("_allergy_shape") == "finding").join(
                agents, on="_allergy_concept", how="left"
            )
        )
    return pl.concat(parts, how="diagonal_relaxed").select(*_KEYS, "substance_id").unique()


def substance_reason(substance_id: pl.Expr, substance_found: pl.Expr) -> pl.Expr:
    """Why an allergy gave no row: no substance at all, or one the vocabulary cannot name.

    >>> df = pl.DataFrame({"id": [None, "1", "2"], "vocab": [None, None, "NDFRT"]})
    >>> df.select(substance_reason(pl.col("id"), pl.col("vocab"))).to_series().to_list()
    ['allergy_without_substance', 'allergy_substance_not_in_vocabulary', \
'allergy_substance_unknown_vocabulary']
    """
    return (
        pl.when(substance_id.is_null())
        .then(pl.lit("allergy_without_substance"))
        .when(substance_found.is_null())
        .then(pl.lit("allergy_substance_not_in_vocabulary"))
        .otherwise(pl.lit("allergy_substance_unknown_vocabulary"))
    )


def substances(vocab: Vocabulary, keys: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Resolve the distinct allergy keys of a table to substance codes.

    Returns ``(rows, reasons)``: ``rows`` has ``*_KEYS, system, code, mapped_from`` (one row
    per code; ATC rows derived from a drug carry ``mapped_from``), ``reasons`` has ``*_KEYS,
    _substance_reason`` for keys that gave no code.
    """
    concepts = vocab.concepts.select(
        "concept_id", "vocabulary_id", "concept_code", "system"
    ).rename(lambda c: f"_s_{c}")
    ids = _substance_ids(vocab, keys.lazy()).join(
        concepts, left_on="substance_id", right_on="_s_concept_id", how="left"
    )
    finding_code = vocab.concepts.select(
        _allergy_concept="concept_id",
        _finding=pl.concat_str(pl.col("system"), pl.lit(":"), pl.col("concept_code")),
    )
    ids = (
        ids.join(finding_code, on="_allergy_concept", how="left")
        .with_columns(_finding=pl.when(pl.col("_allergy_shape") == "finding").then("_finding"))
        .collect()  # small (one row per substance of a key); read by three branches below
        .lazy()
    )
    named = ids.filter(pl.col("_s_system").is_not_null() & pl.col("_s_concept_code").is_not_null())
    recorded = named.select(
        *_KEYS, system="_s_system", code="_s_concept_code", mapped_from="_finding"
    )
    # a drug: ATC through the vocabulary, from the substance or the RxNorm concept it maps to
    drug_ids = named.select(*_KEYS, "substance_id", "_s_system", "_s_concept_code")
    via = [drug_ids.with_columns(_drug=pl.col("substance_id"))]
    if vocab.relationships is not None:
        maps_to = vocab.relationships.filter(pl.col("relationship_id") == "Maps to").select(
            substance_id="concept_id_1", _drug="concept_id_2"
        )
        via.append(drug_ids.join(maps_to, on="substance_id"))
    drugs = pl.concat(via).unique()
    atc = vocab.atc_codes(drugs.select(concept_id="_drug"))
    derived = drugs.join(atc, left_on="_drug", right_on="concept_id").select(
        *_KEYS,
        system=pl.lit("atc"),
        code="code",
        mapped_from=pl.concat_str(pl.col("_s_system"), pl.lit(":"), pl.col("_s_concept_code")),
    )
    rows = pl.concat([recorded, derived]).unique(subset=[*_KEYS, "system", "code"]).collect()
    reasons = (
        ids.join(rows.lazy().select(_KEYS), on=_KEYS, how="anti", nulls_equal=True)
        .group_by(_KEYS)
        .agg(
            _substance_reason=substance_reason(
                pl.col("substance_id"), pl.col("_s_vocabulary_id")
            ).min()
        )
        .collect()
    )
    return rows, reasons


class Substances:
    """The substance codes of the allergy rows of one collected event frame.

    Built once per table from the distinct allergy keys of ``df`` (``mark_allergies``
    applied and collected): :meth:`reason` says, row by row, why an allergy gave no code;
    :meth:`rows` expands the converted allergy rows into :data:`ALLERGY_COLUMNS`.
    """

    def __init__(self, vocab: Vocabulary, df: pl.DataFrame) -> None:
        keys = df.filter(pl.col("_allergy_shape").is_not_null()).select(_KEYS).unique()
        if keys.is_empty():  # most tables: no vocabulary walk at all
            self.codes = pl.DataFrame(schema={**keys.schema, **_CODE_SCHEMA})
            self.why = keys.with_columns(_substance_reason=pl.lit(None, pl.String))
        else:
            self.codes, self.why = substances(vocab, keys)

    def reason(self, df: pl.DataFrame) -> pl.Series:
        """``_substance_reason`` per row of ``df``: null for a non-allergy row or one with codes."""
        return df.select(_KEYS).join(
            self.why, on=list(_KEYS), how="left", nulls_equal=True, maintain_order="left"
        )["_substance_reason"]

    def rows(self, ok: pl.DataFrame) -> pl.DataFrame:
        """The allergy rows of the converted allergy rows of ``ok``, one per substance code."""
        marked = ok.filter(pl.col("_allergy_shape").is_not_null()).select(
            "patient_id", "date", "_allergy_kind", *_KEYS
        )
        return marked.join(self.codes, on=list(_KEYS), nulls_equal=True).select(
            "patient_id", "date", "system", "code", kind="_allergy_kind", mapped_from="mapped_from"
        )


def with_allergy_reason(df: pl.DataFrame, substances: Substances) -> pl.DataFrame:
    """Replace ``_reason`` of the allergy rows of an OBSERVATION frame: the person and date
    reasons (``_event_reason``) first, then why the substance gave no code; an allergy row
    whose category concept is absent from CONCEPT is no longer ``concept_not_in_vocabulary``.
    """
    allergy = pl.col("_allergy_shape").is_not_null()
    return df.with_columns(_substance_reason=substances.reason(df)).with_columns(
        _reason=pl.when(allergy)
        .then(pl.coalesce("_event_reason", "_substance_reason"))
        .otherwise(pl.col("_reason"))
    )


def derived_from_conditions(ok: pl.DataFrame, vocab: Vocabulary, t: TableReport) -> pl.DataFrame:
    """Allergy rows derived from the converted CONDITION_OCCURRENCE rows (which stay
    diagnoses); counted as ``derived["allergies"]``, and the allergy conditions whose
    substance has no code as ``adjusted[<reason>]``."""
    marked = mark_allergies(ok.lazy(), vocab, None).collect()
    substances = Substances(vocab, marked)
    reasons = substances.reason(marked).drop_nulls()
    for reason, n in reasons.value_counts().iter_rows():
        t.add_adjusted(f"{reason}_no_allergy_row", n)
    rows = substances.rows(marked)
    t.add_derived("allergies", rows.height)
    return rows
