"""Azure Monitor request metrics for online endpoints: what the quiesce gate reads."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from amlops.emulator import ids
from amlops.emulator.errors import bad_request
from amlops.emulator.state import State


def record_traffic(state: State, endpoint_id: str, requests: int, seconds_ago: float = 0.0) -> None:
    state.endpoint_traffic.setdefault(ids.key(endpoint_id), []).append((state.clock.now() - seconds_ago, requests))


def _parse_timespan(timespan: str) -> tuple[datetime, datetime]:
    try:
        start, end = (datetime.fromisoformat(p.replace("Z", "+00:00")) for p in timespan.split("/"))
    except ValueError as err:
        raise bad_request(f"timespan '{timespan}' must be 'start/end' in ISO 8601.", "InvalidTimespan") from err
    return start, end


def request_metrics(state: State, resource_id: str, metric: str, timespan: str) -> dict[str, Any]:
    if metric.lower() not in ("requestsperminute", "requests"):
        raise bad_request(f"Metric '{metric}' is not available for online endpoints; use RequestsPerMinute.", "BadRequest")
    state.store.require(resource_id)
    start, end = _parse_timespan(timespan)
    # Map wall-clock instants of the timespan onto the emulator's monotonic clock.
    now_wall, now_mono = state.clock.utcnow(), state.clock.now()
    lo = now_mono - (now_wall - start).total_seconds()
    hi = now_mono - (now_wall - end).total_seconds()
    total = sum(n for t, n in state.endpoint_traffic.get(ids.key(resource_id), []) if lo <= t <= hi)
    stamp = (start + timedelta(seconds=0)).isoformat().replace("+00:00", "Z")
    # Azure Monitor's metrics list (REST API 2018-01-01, Metrics - List): a resource that emitted nothing for
    # the metric returns the metric with an empty `timeseries` array, not a zero.
    no_data = ids.key(resource_id) in {ids.key(e) for e in state.settings.endpoints_without_metrics}
    series = [] if no_data else [{"metadatavalues": [], "data": [{"timeStamp": stamp, "total": float(total)}]}]
    return {
        "cost": 0,
        "timespan": timespan,
        "interval": "PT1M",
        "namespace": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
        "resourceregion": "",
        "value": [
            {
                "id": f"{resource_id}/providers/Microsoft.Insights/metrics/{metric}",
                "type": "Microsoft.Insights/metrics",
                "name": {"value": metric, "localizedValue": metric},
                "unit": "Count",
                "timeseries": series,
                "errorCode": "Success",
            }
        ],
    }
