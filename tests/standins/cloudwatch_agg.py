"""CloudWatch's aggregation of the datapoints the AWS stand-in received,
as GetMetricStatistics would return it: per period, over every datapoint of
the same namespace, name and exact dimension set (CloudWatch does not
aggregate across dimensions for custom metrics), StatisticValues summed
across publishers: Average = sum of Sum / sum of SampleCount (aws.md 4,
"Aggregation rules", and 10.3).  Pure functions over the stand-in's list of
received points; the stand-in serves them on /_control/metric-statistics."""

import datetime


def _epoch(ts):
    """A datapoint's Timestamp: a datetime, an ISO 8601 string or a number."""
    if isinstance(ts, (int, float)):
        return float(ts)
    if isinstance(ts, datetime.datetime):
        return ts.timestamp()
    return datetime.datetime.fromisoformat(str(ts).replace("Z", "+00:00")).timestamp()


def _dims(dimensions):
    return sorted((d["Name"], d["Value"]) for d in dimensions or [])


def _stats(point):
    """(sum, count, minimum, maximum) of one datapoint, whichever way it was
    sent: StatisticValues, Value, or Values with Counts."""
    sv = point.get("StatisticValues")
    if sv:
        return sv["Sum"], sv["SampleCount"], sv["Minimum"], sv["Maximum"]
    values = list(point.get("Values") or [])
    counts = list(point.get("Counts") or [1.0] * len(values))
    if "Value" in point:
        values.append(point["Value"])
        counts.append(1.0)
    if not values:
        return None
    return (sum(v * c for v, c in zip(values, counts)), sum(counts), min(values), max(values))


def statistics(points, namespace, metric_name, dimensions, start, end, period, unit=None):
    """GetMetricStatistics over [start, end) (epoch seconds, start aligned by
    the caller): one entry per period that has data, oldest first, each
    {"Timestamp", "SampleCount", "Sum", "Average", "Minimum", "Maximum"}.
    A point with no timestamp counts at its arrival ("received")."""
    want = _dims(dimensions)
    buckets = {}
    for p in points:
        if p.get("Namespace") != namespace or p.get("MetricName") != metric_name:
            continue
        if _dims(p.get("Dimensions")) != want:
            continue
        if unit is not None and p.get("Unit", "None") != unit:
            continue  # data with different units are aggregated separately
        t = _epoch(p["Timestamp"] if p.get("Timestamp") is not None else p["received"])
        if not start <= t < end:
            continue
        s = _stats(p)
        if s is None:
            continue
        k = start + (t - start) // period * period
        b = buckets.setdefault(k, [0.0, 0.0, s[2], s[3]])
        b[0] += s[0]
        b[1] += s[1]
        b[2] = min(b[2], s[2])
        b[3] = max(b[3], s[3])
    out = []
    for k in sorted(buckets):
        total, count, lo, hi = buckets[k]
        out.append({"Timestamp": k, "SampleCount": count, "Sum": total,
                    "Average": total / count if count else None, "Minimum": lo,
                    "Maximum": hi})
    return out
