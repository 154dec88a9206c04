import gzip

import pytest

from sensor_lstm.errors import JobInputError
from sensor_lstm.lake import Lake
from sensor_lstm.readings.landing import check_landing_bytes, wide_encoding

TEXT = "sensor_id,timestamp,reading\ns1,2026-11-25T00:00:00Z,1.0\n"


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        (TEXT.encode("utf-8"), None),
        (TEXT.encode("utf-8-sig"), None),
        ("é,2026-11-25T00:00:00Z,1.0\n".encode(), None),
        (b"", None),
        (b"s", None),
        (TEXT.encode("utf-16"), "UTF-16LE"),  # Python writes little-endian with a byte order mark
        (TEXT.encode("utf-16-le"), "UTF-16LE"),
        (TEXT.encode("utf-16-be"), "UTF-16BE"),
        (b"\xfe\xff" + TEXT.encode("utf-16-be"), "UTF-16BE"),
        (TEXT.encode("utf-32"), "UTF-32LE"),
        (TEXT.encode("utf-32-le"), "UTF-32LE"),
        (TEXT.encode("utf-32-be"), "UTF-32BE"),
    ],
)
def test_wide_encoding_tells_utf16_and_utf32_from_utf8_by_mark_or_nul_bytes(encoded, expected):
    assert wide_encoding(encoded[:64]) == expected


def test_a_utf16_file_is_refused_by_name_compressed_or_not_and_utf8_passes(tmp_path):
    plain, compressed, good = tmp_path / "a.csv", tmp_path / "b.csv.gz", tmp_path / "c.csv.gz"
    plain.write_bytes(TEXT.encode("utf-16"))
    compressed.write_bytes(gzip.compress(TEXT.encode("utf-32-be")))
    good.write_bytes(gzip.compress(TEXT.encode()))
    lake = Lake(str(tmp_path))
    with pytest.raises(JobInputError) as refused:
        check_landing_bytes(lake, [str(plain)])
    assert (
        str(refused.value)
        == f"{plain} is UTF-16LE text: deliver it as UTF-8 (for example `iconv -f UTF-16LE -t UTF-8`)"
    )
    with pytest.raises(JobInputError, match=r"b\.csv\.gz is UTF-32BE text: deliver it as UTF-8"):
        check_landing_bytes(lake, [str(compressed)])
    check_landing_bytes(lake, [str(good)])
