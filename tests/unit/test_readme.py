"""The README's configuration table must list every setting, with the default the code uses."""

from __future__ import annotations

import re
from pathlib import Path

from services.core.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_lists_every_setting_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| (.*?) \|", README.read_text(encoding="utf-8"), re.M))
    for name, field in Settings.model_fields.items():
        assert name.upper() in rows, f"{name.upper()} missing from README configuration table"
        default = field.default
        shown = rows[name.upper()]
        if default == "":
            assert shown == "(empty)"
        else:
            assert shown == f"`{str(default).lower() if isinstance(default, bool) else default}`", name
