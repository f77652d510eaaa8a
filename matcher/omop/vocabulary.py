"""The OMOP vocabulary as the importer uses it: concept ids to (system, code), and the few
cross-vocabulary links it follows (RxNorm to ATC, SNOMED to ICD-10).

OMOP vocabulary names become the platform's lower-case system names; a vocabulary not in
:data:`SYSTEMS` is reported, never guessed.

    >>> SYSTEMS["ICD10CM"], SYSTEMS["CIM10"], SYSTEMS["RxNorm"]
    ('icd10cm', 'icd10', 'rxnorm')
"""

from __future__ import annotations

import polars as pl

from matcher.omop.reader import OmopSource

SYSTEMS: dict[str, str] = {
    "ICD10": "icd10",
    "CIM10": "icd10",  # the French modification of ICD-10 in the OHDSI vocabulary
    "ICD10CM": "icd10cm",
    "SNOMED": "snomed",
    "ICPC2": "icpc2",
    "RxNorm": "rxnorm",
    "RxNorm Extension": "rxnorm_extension",
    "ATC": "atc",
    "LOINC": "loinc",
    "UCUM": "ucum",
    # ---- issue 18: records (procedure vocabularies) ----
    "CCAM": "ccam",
    "ICD10PCS": "icd10pcs",
    "CPT4": "cpt",
    "HCPCS": "hcpcs",
}
"""OMOP ``vocabulary_id`` → system name in the data contract."""

ATC_RELATIONSHIPS: tuple[str, ...] = (
    "RxNorm - ATC",
    "RxNorm - ATC pr lat",
    "RxNorm - ATC pr up",
    "RxNorm - ATC sec lat",
    "RxNorm - ATC sec up",
)
"""Relationships from an RxNorm concept (a drug or its ingredient) towards an ATC concept."""

INGREDIENT_RELATIONSHIPS: tuple[str, ...] = (
    "Consists of",
    "RxNorm has ing",
    "Has precise ing",
    "Tradename of",
    "Quantified form of",
    "Form of",
)
"""Relationships walked from a drug towards its ingredients, where ATC links usually sit."""

INGREDIENT_HOPS = 3

ICD10_VOCABULARIES: tuple[str, ...] = ("ICD10", "CIM10", "ICD10CM")


def _concept_id(expr: pl.Expr) -> pl.Expr:
    """A concept id as text, with OMOP's ``0`` ("no matching concept") turned into null."""
    text = expr.cast(pl.String).str.strip_chars()
    return pl.when(text.is_in(["0", ""])).then(None).otherwise(text)


class Vocabulary:
    """CONCEPT, CONCEPT_RELATIONSHIP and CONCEPT_ANCESTOR of one export (each may be absent)."""

    def __init__(self, source: OmopSource) -> None:
        self.has_concepts = source.has("concept")
        cols = ["concept_id", "vocabulary_id", "concept_code", "domain_id", "concept_class_id"]
        if self.has_concepts:
            lf = source.read("concept")
            present = lf.collect_schema().names()
            lf = lf.with_columns(
                [pl.lit(None, pl.String).alias(c) for c in cols if c not in present]
            )
            self.concepts = (
                lf.select(cols)
                .with_columns(concept_id=_concept_id(pl.col("concept_id")))
                .filter(pl.col("concept_id").is_not_null())
                .unique(subset="concept_id", keep="first")
                .with_columns(system=pl.col("vocabulary_id").replace_strict(SYSTEMS, default=None))
            )
        else:
            self.concepts = pl.LazyFrame(
                schema={c: pl.String for c in [*cols, "system"]},
            )
        self.relationships: pl.LazyFrame | None = None
        if source.has("concept_relationship"):
            self.relationships = source.read("concept_relationship").select(
                _concept_id(pl.col("concept_id_1")).alias("concept_id_1"),
                _concept_id(pl.col("concept_id_2")).alias("concept_id_2"),
                "relationship_id",
                *(
                    ["invalid_reason"]
                    if "invalid_reason" in source.columns("concept_relationship")
                    else []
                ),
            )
            if "invalid_reason" in self.relationships.collect_schema().names():
                self.relationships = self.relationships.filter(
                    pl.col("invalid_reason").is_null()
                ).drop("invalid_reason")
        self.ancestors: pl.LazyFrame | None = None
        if source.has("concept_ancestor"):
            self.ancestors = source.read("concept_ancestor").select(
                _concept_id(pl.col("ancestor_concept_id")).alias("ancestor"),
                _concept_id(pl.col("descendant_concept_id")).alias("descendant"),
            )

    def resolve(self, lf: pl.LazyFrame, source_id: str | None, standard_id: str) -> pl.LazyFrame:
        """Add ``system``, ``code``, ``domain`` and ``_code_reason`` to an event frame.

        The source concept is used when it belongs to a known vocabulary (the code as the
        source recorded it); otherwise the standard concept; otherwise ``_code_reason`` says
        why there is no code: ``no_concept`` (both ids absent or 0),
        ``concept_not_in_vocabulary`` (ids not found in CONCEPT, or no CONCEPT table),
        ``unknown_vocabulary`` (found, but in a vocabulary the platform has no system for).
        ``_from_standard`` marks rows whose code came from the standard concept.
        """
        names = lf.collect_schema().names()
        src = pl.col(source_id) if source_id and source_id in names else pl.lit(None, pl.String)
        lf = lf.with_columns(_src_id=_concept_id(src), _std_id=_concept_id(pl.col(standard_id)))
        c = self.concepts.select(
            "concept_id", "vocabulary_id", "concept_code", "domain_id", "system"
        )
        lf = lf.join(
            c.rename(lambda n: f"_src_{n}"),
            left_on="_src_id",
            right_on="_src_concept_id",
            how="left",
            maintain_order="left",
        ).join(
            c.rename(lambda n: f"_std_{n}"),
            left_on="_std_id",
            right_on="_std_concept_id",
            how="left",
            maintain_order="left",
        )
        src_ok = pl.col("_src_system").is_not_null() & pl.col("_src_concept_code").is_not_null()
        std_ok = pl.col("_std_system").is_not_null() & pl.col("_std_concept_code").is_not_null()
        found = (
            pl.col("_src_vocabulary_id").is_not_null() | pl.col("_std_vocabulary_id").is_not_null()
        )
        any_id = pl.col("_src_id").is_not_null() | pl.col("_std_id").is_not_null()
        return lf.with_columns(
            system=pl.when(src_ok).then("_src_system").when(std_ok).then("_std_system"),
            code=pl.when(src_ok).then("_src_concept_code").when(std_ok).then("_std_concept_code"),
            domain=pl.when(src_ok).then("_src_domain_id").otherwise("_std_domain_id"),
            concept_id=pl.when(src_ok).then("_src_id").when(std_ok).then("_std_id"),
            std_concept_id=pl.col("_std_id"),
            _from_standard=(~src_ok & std_ok),
            _code_reason=pl.when(src_ok | std_ok)
            .then(None)
            .when(~any_id)
            .then(pl.lit("no_concept"))
            .when(~found)
            .then(pl.lit("concept_not_in_vocabulary"))
            .otherwise(pl.lit("unknown_vocabulary")),
        ).drop(pl.selectors.starts_with("_src_", "_std_"))

    def atc_links(self, drug_ids: pl.LazyFrame) -> pl.LazyFrame:
        """Concept ids of ATC candidates for RxNorm concept ids (column ``concept_id``).

        Followed: CONCEPT_ANCESTOR (every ancestor is a candidate), and RxNorm-to-ATC
        relationships of the drug itself or of the concepts reached from it in up to
        :data:`INGREDIENT_HOPS` steps towards its ingredients (clinical drug → component →
        ingredient). Returns distinct ``concept_id, target``; whether a target is an ATC
        code is decided by :meth:`atc_codes` against CONCEPT.
        """
        ids = drug_ids.select(pl.col("concept_id").cast(pl.String)).unique()
        candidates: list[pl.LazyFrame] = []
        if self.ancestors is not None:
            candidates.append(
                ids.join(self.ancestors, left_on="concept_id", right_on="descendant").select(
                    "concept_id", target="ancestor"
                )
            )
        if self.relationships is not None:
            rel = self.relationships
            towards = rel.filter(pl.col("relationship_id").is_in(INGREDIENT_RELATIONSHIPS))
            frontier = ids.with_columns(via=pl.col("concept_id"))
            reached = [frontier]
            for _ in range(INGREDIENT_HOPS):
                frontier = (
                    frontier.join(towards, left_on="via", right_on="concept_id_1")
                    .select("concept_id", via="concept_id_2")
                    .unique()
                )
                reached.append(frontier)
            candidates.append(
                pl.concat(reached)
                .unique()
                .join(
                    rel.filter(pl.col("relationship_id").is_in(ATC_RELATIONSHIPS)),
                    left_on="via",
                    right_on="concept_id_1",
                )
                .select("concept_id", target="concept_id_2")
            )
        if not candidates:
            return pl.LazyFrame(schema={"concept_id": pl.String, "target": pl.String})
        return pl.concat(candidates).unique()

    def atc_codes(self, drug_ids: pl.LazyFrame) -> pl.LazyFrame:
        """ATC level-5 codes (7 characters) for RxNorm concept ids (column ``concept_id``).

        Only ATC concepts present in CONCEPT give a code; a combination drug may get several.
        Returns distinct ``concept_id, code``.
        """
        atc = self.concepts.filter(
            (pl.col("vocabulary_id") == "ATC") & (pl.col("concept_code").str.len_chars() == 7)
        ).select(target="concept_id", code="concept_code")
        return (
            self.atc_links(drug_ids)
            .join(atc, on="target")
            .select("concept_id", "code")
            .unique()
            .sort("concept_id", "code")
        )

    def icd10_codes(self, snomed_ids: pl.LazyFrame) -> pl.LazyFrame:
        """The ICD-10 (or ICD-10-CM) code of SNOMED concepts, when it is unambiguous.

        In OMOP, ICD-10 concepts ``Maps to`` a standard SNOMED concept; many ICD-10 codes can
        map to one SNOMED concept. A SNOMED concept gets a code only when exactly one code of
        that system maps to it. Returns ``concept_id, system, code``.
        """
        empty = pl.LazyFrame(
            schema={"concept_id": pl.String, "system": pl.String, "code": pl.String}
        )
        if self.relationships is None:
            return empty
        icd = self.concepts.filter(pl.col("vocabulary_id").is_in(ICD10_VOCABULARIES)).select(
            source="concept_id", system="system", code="concept_code"
        )
        links = (
            self.relationships.filter(pl.col("relationship_id") == "Maps to")
            .join(
                snomed_ids.select("concept_id").unique(),
                left_on="concept_id_2",
                right_on="concept_id",
            )
            .join(icd, left_on="concept_id_1", right_on="source")
            .select(concept_id="concept_id_2", system="system", code="code")
            .unique()
        )
        return links.filter(pl.len().over("concept_id", "system") == 1).sort("concept_id", "system")
