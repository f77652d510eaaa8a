"""The p4dp criteria language: text → Lark parse tree → AST with spans → typed, frozen IR.

This package knows text and the IR; it knows nothing of Polars. It resolves code sets through
the ``terminology`` package.
"""
