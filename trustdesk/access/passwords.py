"""Operators' passwords: argon2id hashes (argon2-cffi), never the password itself.

argon2id is slow and memory-hard on purpose, so a stolen table cannot be guessed through at GPU
speed; its parameters are stored in each hash, so raising them later rehashes on next login.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12


class WeakPassword(ValueError):
    pass


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def burn_time(password: str) -> None:
    """Spend what a verification costs when there is no such user, so that the answer's timing
    does not tell which user names exist."""
    verify_password(password, _dummy_hash())


@cache
def _dummy_hash() -> str:
    return _hasher().hash("not a password of anyone's")
