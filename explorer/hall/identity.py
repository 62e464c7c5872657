"""Who a student is across tabs and reloads: a random person id the server signs (issue 22).

The browser keeps `id.signature` in a cookie and sends it with every new tab's connection; the
server believes the id only where the signature is its own (HMAC-SHA256 under a secret no browser
sees), so a student cannot pose as another by editing the cookie. Anything else (tampered, foreign
or garbage) is no one: the session is given a new identity, quietly.

The secret is the `person_secret` setting where one is given (several servers sharing one store,
docs/store.md, then know the same people), else a random one made once in the data folder
(person.secret, mode 0600): identities survive the server's restarts.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import tempfile
from pathlib import Path

from .. import paths

COOKIE = "resnet_explorer_person"
MAX_AGE_SECONDS = 180 * 24 * 3600  # a term: browsers cap a cookie's life at 400 days anyway (RFC 6265bis)
SECRET_FILE = "person.secret"
_PERSON = re.compile(r"[0-9a-f]{16}")
_SECRET = re.compile(r"[0-9a-f]{64}")


class Identity:
    """Mints and checks signed person ids under one server secret."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("the identity secret is empty")
        self.secret = secret

    def sign(self, person: str) -> str:
        """The cookie value for this person id: the id and its HMAC-SHA256, in hex."""
        return f"{person}.{hmac.new(self.secret, person.encode(), hashlib.sha256).hexdigest()}"

    def mint(self) -> tuple[str, str]:
        """A new person: its id (64 random bits) and its cookie value."""
        person = secrets.token_hex(8)
        return person, self.sign(person)

    def verify(self, value: object) -> str | None:
        """The person id a cookie value carries, or None where it is not one this server signed."""
        if not isinstance(value, str) or len(value) != 16 + 1 + 64:
            return None
        person = value.partition(".")[0]
        if not _PERSON.fullmatch(person):
            return None
        expected = self.sign(person).encode()
        return person if hmac.compare_digest(expected, value.encode("ascii", "replace")) else None


def secret(setting: str = "", folder: Path | None = None) -> bytes:
    """The setting's secret where one is given, else the data folder's (made on first use)."""
    if setting:
        return setting.encode()
    path = (folder or paths.home()) / SECRET_FILE
    if not path.exists():
        _create(path)
    text = path.read_text().strip()
    if not _SECRET.fullmatch(text):
        raise ValueError(f"{path} does not hold a secret (64 hex digits): remove it and a new one is made")
    return text.encode()


def _create(path: Path) -> None:
    """Write a new secret where none is: written whole beside it, then linked into place, so two
    servers starting at once agree on one (the second's link fails and it reads the first's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".person-")  # mode 0600
    try:
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(32) + "\n")
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)
