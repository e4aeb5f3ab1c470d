"""Failed sign-ins to the web UI, counted per client address and per account, and when to refuse.

A failed sign-in (a wrong password, an address of no account, a wrong current
password on the password-change form) counts against the client's address and
against the account it named. Past ``login_failures_per_minute``
(``RAYMON_LOGIN_FAILURES_PER_MINUTE``) failures of one address in a moving
minute, or ``login_account_failures_per_hour``
(``RAYMON_LOGIN_ACCOUNT_FAILURES_PER_HOUR``) failures for one account in a
moving hour (from any number of addresses: a guesser spreading over many
hosts), every sign-in of that address or account is refused with
``TooManyAttemptsError`` (429, seconds to wait), the right password included,
until the window frees: a guesser learns nothing while refused. A successful
sign-in clears its account's count (a person's typos never add up to a
lock-out); the address count stays. The account limit lets someone who knows
an address keep its owner from signing in for as long as they keep failing:
the price of stopping a spread-out guesser, and why it counts per hour with a
higher threshold than the address limit. Accounts are counted by the address
given (lower-cased), whether an account has it or not, so the answers say
nothing of which addresses exist.

The counts live in this process (``limits``' memory storage, as
``services.access_tokens`` does): each server replica counts its own, and a
restart forgets them. This module never logs a password and runs no SQL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from raymon.server.services.errors import TooManyAttemptsError


@dataclass
class LoginAttempts:
    """Failed sign-ins per client address (a moving minute) and per account (a moving hour)."""

    per_address_per_minute: int
    per_account_per_hour: int
    _limiter: MovingWindowRateLimiter = field(init=False, repr=False)
    _address: RateLimitItem = field(init=False, repr=False)
    _account: RateLimitItem = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._address = RateLimitItemPerMinute(self.per_address_per_minute, namespace="login-address")
        self._account = RateLimitItemPerHour(self.per_account_per_hour, namespace="login-account")

    def check(self, address: str, email: str) -> None:
        """Raise ``TooManyAttemptsError`` when ``address`` or the account of ``email`` must wait."""
        wait = self._wait(self._address, address)
        if wait:
            raise TooManyAttemptsError(
                f"too many failed sign-ins from your address {address} (more than "
                f"{self.per_address_per_minute} in a minute, RAYMON_LOGIN_FAILURES_PER_MINUTE)",
                retry_after=wait,
            )
        wait = self._wait(self._account, _account(email))
        if wait:
            raise TooManyAttemptsError(
                f"too many failed sign-ins for this account (more than {self.per_account_per_hour} "
                "in an hour, RAYMON_LOGIN_ACCOUNT_FAILURES_PER_HOUR)",
                retry_after=wait,
            )

    def failed(self, address: str, email: str) -> None:
        self._limiter.hit(self._address, address)
        self._limiter.hit(self._account, _account(email))

    def succeeded(self, email: str) -> None:
        self._limiter.clear(self._account, _account(email))

    def _wait(self, item: RateLimitItem, key: str) -> int:
        """Seconds until ``key`` may try again (0: it may now)."""
        if self._limiter.test(item, key):
            return 0
        stats = self._limiter.get_window_stats(item, key)
        return max(1, int(stats.reset_time - time.time()) + 1)


def _account(email: str) -> str:
    return email.strip().lower() if isinstance(email, str) else ""
