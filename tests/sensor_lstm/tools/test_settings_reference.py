from sensor_lstm.settings import PARAMS, SETTINGS, Source
from sensor_lstm.tools.settings_reference import PAGE, reference


def test_the_committed_settings_reference_is_the_one_the_declarations_make():
    assert PAGE.read_text() == reference(), (
        "docs/settings.md is stale: run python -m sensor_lstm.tools.settings_reference"
    )


def test_the_reference_has_a_line_for_every_setting():
    page = reference()
    assert all(f"| `{setting.name}` |" in page for setting in PARAMS)
    assert all(f"| `{setting.flag}` |" in page for setting in SETTINGS if setting.source is not Source.PARAM)
    assert all(f"| `{setting.env}` |" in page for setting in SETTINGS if setting.env)
