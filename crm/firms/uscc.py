"""The unified social credit code (统一社会信用代码), GB 32100-2015.

Eighteen characters from a 31-character alphabet (no I, O, Z, S, V): registration
authority, organisation type, six-digit administrative division, nine-character
organisation code, and a check character computed over the first seventeen.
"""

import random
import unicodedata

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_character(first17: str) -> str:
    total = sum(_VALUE[c] * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalise(code: str) -> str:
    """Upper-case and strip spaces, the way people paste codes from certificates.

    NFKC first: a Chinese input method left in full-width mode types "９１３３…Ｂ".
    """
    return "".join(unicodedata.normalize("NFKC", code).split()).upper()


def uscc_error(code: str) -> str | None:
    """Why ``code`` is not a valid USCC, or None. ``code`` should be normalised first."""
    if len(code) != 18:
        return "length"
    if any(c not in _VALUE for c in code):
        return "characters"
    if not code[2:8].isdigit():
        return "division"
    if check_character(code[:17]) != code[17]:
        return "check"
    return None


def is_valid(code: str) -> bool:
    return uscc_error(code) is None


# -- generating valid codes (demo data, tests) ---------------------------------------------

_ORG_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _org_code(rng: random.Random) -> str:
    """A nine-character organisation code with its GB 11714 check character."""
    body = "".join(rng.choice(_ORG_ALPHABET) for _ in range(8))
    # GB 11714 values letters A=10 … Z=35 (base 36), unlike GB 32100's own alphabet.
    total = sum(int(c, 36) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def generate(rng: random.Random, division: str = "310105") -> str:
    """A valid code for an enterprise (9, 1) registered in ``division``."""
    first17 = "91" + division + _org_code(rng)
    return first17 + check_character(first17)
