"""Every error code the code can raise is documented in docs/errors.md."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RAISED = re.compile(r'code(?: =|=)\s*"([A-Z][A-Z_]+)"')


def test_every_raised_error_code_is_documented():
    documented = set(re.findall(r"`([A-Z][A-Z_]+)`", (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")))
    raised = {
        code
        for path in (ROOT / "src" / "popreg").rglob("*.py")
        for code in RAISED.findall(path.read_text(encoding="utf-8"))
    }
    assert raised, "the pattern found no error code: the test would prove nothing"
    assert raised - documented == set()
