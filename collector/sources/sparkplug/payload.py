"""Sparkplug B payloads: parsing (with Tahu's optional compression) and metric values.

Data types and their protobuf fields follow the Sparkplug B 3.0 specification, section 6.4.16:
Int8/16/32 travel in the uint32 `int_value` as 32-bit two's complement, Int64 in the uint64
`long_value` as 64-bit two's complement, unsigned types as they are.
"""

from __future__ import annotations

import gzip
import math
import zlib
from typing import Any

from collector.sources.sparkplug.sparkplug_b_pb2 import Payload

__all__ = ["COMPRESSED_UUID", "DataType", "Payload", "metric_number", "parse_payload"]

COMPRESSED_UUID = "SPBV1.0_COMPRESSED"


class DataType:
    INT8, INT16, INT32, INT64 = 1, 2, 3, 4
    UINT8, UINT16, UINT32, UINT64 = 5, 6, 7, 8
    FLOAT, DOUBLE, BOOLEAN, STRING, DATETIME = 9, 10, 11, 12, 13


_SIGNED32 = {DataType.INT8, DataType.INT16, DataType.INT32}
_NUMERIC = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}


class PayloadError(ValueError):
    pass


def parse_payload(data: bytes | bytearray) -> Any:
    """Payload message from bytes; inflates Tahu's compressed payloads (DEFLATE or GZIP)."""
    try:
        payload = Payload.FromString(data)
    except Exception as exc:  # google.protobuf.message.DecodeError and friends
        raise PayloadError(f"not a Sparkplug B payload: {exc}") from None
    if payload.HasField("uuid") and payload.uuid == COMPRESSED_UUID:
        algorithm = next(
            (m.string_value for m in payload.metrics if m.name == "algorithm"), "DEFLATE"
        ).upper()
        try:
            if algorithm == "GZIP":
                inner = gzip.decompress(payload.body)
            elif algorithm == "DEFLATE":
                inner = zlib.decompress(payload.body)
            else:
                raise PayloadError(f"unknown compression {algorithm!r}")
            payload = Payload.FromString(inner)
        except PayloadError:
            raise
        except Exception as exc:
            raise PayloadError(f"compressed payload does not decode: {exc}") from None
    return payload


def metric_number(metric: Any, datatype: int | None) -> float | str:
    """The metric's value as a float, or the reason it has none usable for SPC."""
    if metric.HasField("is_null") and metric.is_null:
        return "null value"
    field = metric.WhichOneof("value")
    if field is None:
        return "no value"
    if datatype is not None and datatype not in _NUMERIC:
        return f"datatype {datatype} is not numeric"
    if field == "int_value":
        v = metric.int_value
        if datatype in _SIGNED32 and v >= 1 << 31:
            v -= 1 << 32
        return float(v)
    if field == "long_value":
        v = metric.long_value
        if datatype == DataType.INT64 and v >= 1 << 63:
            v -= 1 << 64
        return float(v)
    if field in ("float_value", "double_value"):
        x = float(getattr(metric, field))
        return x if math.isfinite(x) else f"non-finite value {x!r}"
    if field == "boolean_value":
        return 1.0 if metric.boolean_value else 0.0
    return f"{field} is not numeric"
