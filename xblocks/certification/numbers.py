"""Certificate numbers: a random code people can read aloud, with a check character that catches typos.

A number such as ``KAF-2026-7XK4M-9QDT3`` says nothing about its neighbours: the code is nine
random characters of Crockford's base 32 (45 bits) and a Luhn mod 32 check character, so guessing
another holder's number means trying about 10^13 codes per issued certificate, each one a
rate-limited public lookup. Crockford's alphabet leaves out I, L, O and U, and reading accepts them
as the digits they look like.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_LENGTH = 9
_VALUE = {char: index for index, char in enumerate(ALPHABET)}
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})
CODE = re.compile(rf"[{ALPHABET}]{{5}}-[{ALPHABET}]{{5}}")


def check_character(body: str) -> str:
    """Luhn mod 32 over ``body``: catches every single wrong character and most swapped neighbours."""
    factor, total = 2, 0
    for char in reversed(body):
        addend = factor * _VALUE[char]
        factor = 1 if factor == 2 else 2
        total += addend // 32 + addend % 32
    return ALPHABET[(32 - total % 32) % 32]


def new_code() -> str:
    """Ten characters in two groups of five (``7XK4M-9QDT3``): nine random, the last the check."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    code = body + check_character(body)
    return f"{code[:5]}-{code[5:]}"


def code_is_well_formed(code: str) -> bool:
    """Whether a code (as printed) has the right shape and check character."""
    if not CODE.fullmatch(code):
        return False
    flat = code.replace("-", "")
    return check_character(flat[:-1]) == flat[-1]


def normalise(reference: str) -> str:
    """A number as a visitor may type it (lower case, O for 0) in the form it was printed; other text unchanged."""
    text = str(reference or "").strip()
    upper = text.upper()
    if len(upper) >= 11:
        candidate = upper[:-11] + upper[-11:].translate(_READ_AS)
        if code_is_well_formed(candidate[-11:]):
            return candidate
    return text


def format_number(template: str, *, year: int, seq: int | None = None) -> str:
    """The number for ``template``: ``{year}``, ``{code}`` (random) and, if an operator insists, ``{seq}``."""
    return template.format(year=year, code=new_code() if "{code" in template else "", seq=seq or 0)
