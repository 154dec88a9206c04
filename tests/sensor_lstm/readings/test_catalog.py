import pytest

from sensor_lstm.errors import JobInputError
from sensor_lstm.readings.catalog import SensorEntry, parse_catalog, units

HEADER = "sensor_id,unit,reading_min,reading_max,missing_value_sentinels"


def test_a_catalog_gives_units_ranges_and_sentinels_and_empty_cells_leave_the_runs():
    entries = parse_catalog(
        "\ufeff" + HEADER + "\nboiler,degC,-40,150,-999;-9999\ndoor,count,0,,\nflow,,,,none\n\n", "sensors.csv"
    )
    assert entries == {
        "boiler": SensorEntry("boiler", "degC", -40.0, 150.0, (-999.0, -9999.0)),
        "door": SensorEntry("door", "count", 0.0, None, None),
        "flow": SensorEntry("flow", None, None, None, ()),
    }
    assert units(entries) == {"boiler": "degC", "door": "count"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sensor_id,unit\ns1,degC\n", r"^sensors.csv: its header is not 'sensor_id,unit,reading_min,reading_max,"),
        (f"{HEADER}\ns1,degC,low,,\n", r"^sensors.csv line 2: reading_min 'low' is not a number$"),
        (f"{HEADER}\ns1,degC,,inf,\n", r"^sensors.csv line 2: reading_max 'inf' is not a finite number$"),
        (f"{HEADER}\ns1,degC,10,5,\n", r"^sensors.csv line 2: reading_min 10 is not below reading_max 5$"),
        (f"{HEADER}\ns1,degC,,,-999;x\n", r"^sensors.csv line 2: a sentinel 'x' is not a number$"),
        (f"{HEADER}\ns1,degC,,,\ns1,K,,,\n", r"^sensors.csv line 3: sensor s1 is in the catalog twice$"),
        (f"{HEADER}\n s1,degC,,,\n", r"^sensors.csv line 2: ' s1' is not a valid sensor id$"),
        (f"{HEADER}\ns1,degC,,\n", r"^sensors.csv line 2: 4 fields, not the 5 of its header$"),
    ],
    ids=["header", "not_a_number", "infinite", "min_not_below_max", "bad_sentinel", "twice", "bad_id", "fields"],
)
def test_a_catalog_that_cannot_be_read_is_an_error_naming_its_line(text, message):
    with pytest.raises(JobInputError, match=message):
        parse_catalog(text, "sensors.csv")
