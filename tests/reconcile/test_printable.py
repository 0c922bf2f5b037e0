from __future__ import annotations

import pytest

from aioflows._printable import is_unicode, printable_path


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("flows/hello.json", "flows/hello.json"),
        ("flows/流れ.json", "flows/流れ.json"),
        ("flows/caf\udce9.json", "flows/caf\\xe9.json"),
        ("flows/\ud800.json", "flows/\\ud800.json"),
    ],
    ids=["ascii", "unicode", "undecodable-byte", "other-surrogate"],
)
def test_path_made_printable(path: str, shown: str) -> None:
    assert printable_path(path) == shown


@pytest.mark.parametrize(
    ("text", "expected"), [("naïve", True), ("caf\udce9", False), ("", True)]
)
def test_lone_surrogate_detected(text: str, expected: bool) -> None:
    assert is_unicode(text) is expected
