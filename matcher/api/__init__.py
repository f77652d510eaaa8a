"""The HTTP service (``p4dp serve``); see ``matcher/api/README-dev.md`` for how to add routes.

>>> from matcher.api import ApiSettings, create_app
>>> callable(create_app) and ApiSettings.__name__
'ApiSettings'
"""

from __future__ import annotations

from matcher.api.app import create_app
from matcher.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
