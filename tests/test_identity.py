"""A person's signed cookie (issue 22): the server believes only ids it signed itself, refuses
anything else quietly, and keeps its secret in the data folder for the user alone."""

import stat

import pytest

from explorer.hall.identity import SECRET_FILE, Identity, secret

PERSON = "0123456789abcdef"
SIGNED = f"{PERSON}.395afdd55047287361e4e51188868b53b2b612a9a0ad1d171ec82e515780343a"  # HMAC-SHA256 under b"k"


def test_a_signed_id_is_the_id_and_its_hmac():
    assert Identity(b"k").sign(PERSON) == SIGNED
    assert Identity(b"k").verify(SIGNED) == PERSON


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        PERSON,
        SIGNED[:-1] + "0",  # the signature edited
        "1" + SIGNED[1:],  # the id edited: another person's id under this one's signature
        SIGNED.upper(),
        SIGNED + "0",
        "é" * len(SIGNED),
        "../../" + SIGNED[6:],
        12,
    ],
    ids=["none", "empty", "unsigned", "signature", "id", "upper", "longer", "unicode", "path", "number"],
)
def test_anything_else_is_no_one(value):
    assert Identity(b"k").verify(value) is None


def test_another_servers_signature_is_no_one():
    assert Identity(b"other").verify(SIGNED) is None


def test_a_minted_person_verifies_and_is_new_each_time():
    identity = Identity(b"k")
    (a, cookie_a), (b, _) = identity.mint(), identity.mint()
    assert identity.verify(cookie_a) == a and len(a) == 16 and a != b


def test_the_secret_is_made_once_for_the_user_alone(tmp_path):
    first = secret(folder=tmp_path)
    assert len(first) == 64 and secret(folder=tmp_path) == first  # kept: people survive a restart
    assert stat.S_IMODE((tmp_path / SECRET_FILE).stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [SECRET_FILE]  # no temporary file left behind
    assert secret("from the settings", folder=tmp_path) == b"from the settings"


def test_a_damaged_secret_file_is_named(tmp_path):
    (tmp_path / SECRET_FILE).write_text("short\n")
    with pytest.raises(ValueError, match=r"person.secret does not hold a secret \(64 hex digits\): remove it"):
        secret(folder=tmp_path)
