"""The ODD document cannot drift from the code: every parameter is documented, tables are current."""

import re
from pathlib import Path

from livemarket import odd
from livemarket.config import ScenarioConfig

DOC = Path(__file__).resolve().parent.parent / "docs" / "ODD.md"


def _generated_section() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text.split(odd.BEGIN, 1)[1].split(odd.END, 1)[0]


def test_every_config_parameter_has_notes_and_a_row_in_the_document():
    section = _generated_section()
    documented = set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.M))
    paths = odd.parameter_paths()
    assert len(paths) > 100
    assert not [p for p in paths if p not in odd.NOTES], (
        "config fields without unit/range/source in livemarket.odd.NOTES"
    )
    assert not [p for p in paths if p not in documented], (
        "config fields missing from docs/ODD.md: run python -m livemarket.odd"
    )
    assert not [k for k in odd.NOTES if k not in paths], "notes for fields that no longer exist"


def test_every_table_class_of_the_scenario_is_covered():
    # a new sub-table in ScenarioConfig must get its own table in the ODD document
    nested = {
        f.annotation for f in ScenarioConfig.model_fields.values()
        if isinstance(f.annotation, type) and hasattr(f.annotation, "model_fields")
    }  # fmt: skip
    covered = {cls for _, cls, _ in odd.TABLES}
    assert nested <= covered


def test_generated_tables_are_current():
    assert _generated_section() == "\n" + odd.render(), (
        "docs/ODD.md is stale: run python -m livemarket.odd"
    )


def test_every_row_has_unit_range_and_source():
    for path, (unit, plausible, source) in odd.NOTES.items():
        assert unit and plausible and source, path


def test_odd_has_the_protocol_sections():
    text = DOC.read_text(encoding="utf-8")
    for heading in ("Purpose and patterns", "Entities, state variables and scales",
                    "Process overview and scheduling", "Design concepts", "Initialization",
                    "Input data", "Submodels"):  # fmt: skip
        assert re.search(rf"^## \d+\. {re.escape(heading)}", text, flags=re.M), heading


def test_output_table_lists_every_registered_metric():
    from livemarket.models.metrics import REGISTRY

    text = DOC.read_text(encoding="utf-8")
    section = text.split(odd.OUT_BEGIN, 1)[1].split(odd.OUT_END, 1)[0]
    assert section == "\n" + odd.render_outputs(), "docs/ODD.md outputs are stale: run python -m livemarket.odd"
    rows = re.findall(r"^\| `([^`]+)` \| (\w+) \|", section, flags=re.M)
    assert rows == [(m.name, m.level) for m in REGISTRY]
