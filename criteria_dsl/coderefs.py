"""Code sets as events use them: named sets, inline codes, and the domain check.

Building and resolving a code expression is :mod:`criteria_dsl.codesets`' work; this part of
the compiler decides *which* code sets a study has and checks each use of one:

* a ``codes name = ...`` line becomes a named :class:`~criteria_dsl.ir.CodeSetDef`;
* an event naming a set (``has diagnosis t2d``) refers to it; an unknown name is
  ``E101 unknown-codeset`` (with a hint when the name looks like a code: ``E11``);
* an event listing codes inline (``has prescription atc A10BJ``) gets a code set of its own,
  named after its rule or definition: ``<owner>_codes``, then ``<owner>_codes_2``...; the
  same codes used twice share one set;
* the codes must be able to appear in the event's domain (``E110 wrong-domain``: ATC codes
  never appear in diagnoses).
"""

from __future__ import annotations

from typing import Any

from criteria_dsl import ast as A
from criteria_dsl import ir
from criteria_dsl.codesets import DOMAIN_SYSTEMS, systems_of, wrong_domain
from criteria_dsl.ir import Span
from criteria_dsl.names import CompilerState, Failed, did_you_mean


class CodeRefCompiler(CompilerState):
    """Named and inline code sets (see the module docstring)."""

    def named_codeset(self, line: A.CodesLine) -> None:
        """Build, resolve and record the code set of a ``codes`` line (None after errors)."""
        assert self.builder is not None
        built = self.builder.build(line.expr, None)
        self._finish_codeset(line.name, built, line.expr.span or line.span)

    def _finish_codeset(self, name: str, built: Any, span: Span | None) -> None:
        assert self.builder is not None
        self.terms.extend(built.resolutions)
        if built.spec is None:
            self.codesets[name] = None
            return
        resolved = self.builder.resolve(built.spec, span)
        if resolved is None:
            self.codesets[name] = None
            return
        self.codesets[name] = ir.CodeSetDef(name, built.spec, resolved, built.terms, span=span)

    def code_use(self, use: A.CodeUse, word: str, owner: str) -> ir.CodeSetRef:
        """The code set an event of kind ``word`` (``diagnosis``...) in ``owner`` refers to."""
        if isinstance(use, A.CodeRef):
            if use.name not in self.codes:
                known = sorted(self.codes)
                hint = did_you_mean(use.name, known)
                if use.name[:1].isupper() and any(ch.isdigit() for ch in use.name):
                    hint = (
                        f"'{use.name}' looks like a code: write its system first, "
                        f"e.g. 'icd10 {use.name}'"
                    )
                if use.name not in self.skip_names:
                    self.error(
                        use.span, "E101 unknown-codeset", f"unknown code set '{use.name}'", hint
                    )
                raise Failed
            codeset = self.codesets.get(use.name)
            if codeset is None:
                raise Failed  # its own errors were reported at its definition
            self._check_domain(codeset.spec, word, use.span, f"code set '{use.name}'")
            return ir.CodeSetRef(use.name, span=use.span)
        assert self.builder is not None
        expr = A.CodeExpr((use.item,), span=use.span)
        built = self.builder.build(expr, DOMAIN_SYSTEMS.get(word))
        if built.spec is None:
            raise Failed
        name = self.inline_specs.get(built.spec)
        if name is None:
            count = self.inline_counter.get(owner, 0) + 1
            self.inline_counter[owner] = count
            name = f"{owner}_codes" if count == 1 else f"{owner}_codes_{count}"
            while name in self.codes or name in self.codesets:
                name += "_"
            self._finish_codeset(name, built, use.span)
            if self.codesets.get(name) is None:
                raise Failed
            self.inline_specs[built.spec] = name
        self._check_domain(built.spec, word, use.span, "these codes")
        return ir.CodeSetRef(name, span=use.span)

    def _check_domain(self, spec: Any, word: str, span: Span | None, what: str) -> None:
        problem = wrong_domain(systems_of(spec), word, what)
        if problem is None:
            return
        self.error(span, "E110 wrong-domain", problem)
        raise Failed
