"""Candidate lists: which patients of a practice its physician should look at for a study.

The platform evaluates a study, signs one list per practice with Ed25519 and sends it to the
practice; only the practice can turn the list's tokens back into patients. Modules:

- :mod:`matcher.candidates.document`: the list format (``p4dp-candidate-list`` version 1),
  canonical JSON, signing and verification. Shared with the practice kit, which verifies
  lists.
- :mod:`matcher.candidates.signing`: the Ed25519 signing key pair and its files (secret key
  files in general: :mod:`matcher.keyfiles`).
- ``keys``, ``build``, ``receive``, ``feedback`` (platform side): key generation, building
  lists from evaluation results, receiving practice uploads, the recruitment funnel.

>>> from matcher.candidates import FORMAT, VERSION
>>> FORMAT, VERSION
('p4dp-candidate-list', 1)
"""

from matcher.candidates.document import (
    FORMAT,
    VERSION,
    Candidate,
    CandidateList,
    CandidateListError,
    RuleInfo,
    canonical_bytes,
    sign_list,
    verify_list,
)
from matcher.candidates.signing import (
    PublicKey,
    SigningKey,
    generate_signing_key,
    load_public_key,
    load_signing_key,
)
from matcher.keyfiles import KeyFileError

__all__ = [
    "FORMAT",
    "VERSION",
    "Candidate",
    "CandidateList",
    "CandidateListError",
    "KeyFileError",
    "PublicKey",
    "RuleInfo",
    "SigningKey",
    "canonical_bytes",
    "generate_signing_key",
    "load_public_key",
    "load_signing_key",
    "sign_list",
    "verify_list",
]
