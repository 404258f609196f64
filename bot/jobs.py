"""The job contract: what a task and a result look like on the wire.

Producers send `{"job_id","job_type","payload","requested_by","result_ttl"}`; workers answer with an envelope
`{"status":"ok", **handler_fields}` or `{"status":"error","error":"..."}`. Other programs speak this format, so it
is kept exact; everything Steward adds (attempt counts, heartbeats, dead letters) lives outside it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

DEFAULT_RESULT_TTL = 300
MAX_TASK_BYTES = 1_000_000  # a task larger than this is refused by producers and dead-lettered by workers


class MalformedTask(ValueError):
    """A raw task that cannot be served: not JSON, not an object, or missing/ill-typed contract fields."""


class JobError(Exception):
    """Raised by a handler for a failure whose message is fit for the requester (no trace, no secrets)."""


class RetryableJobError(JobError):
    """A failure worth another attempt (provider overloaded, connection reset)."""


class JobTimeout(TimeoutError):
    """No result arrived within the producer's wait."""

    def __init__(self, job_id: str, job_type: str, timeout: float) -> None:
        super().__init__(f"job {job_id} ({job_type}) had no result after {timeout:g}s")
        self.job_id = job_id
        self.job_type = job_type
        self.timeout = timeout


@dataclass(slots=True)
class Task:
    job_type: str
    payload: dict[str, Any]
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    requested_by: str | None = None
    result_ttl: int = DEFAULT_RESULT_TTL

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "job_id": self.job_id,
                "job_type": self.job_type,
                "payload": self.payload,
                "requested_by": self.requested_by,
                "result_ttl": self.result_ttl,
            }
        )


def decode_task(raw: bytes | str) -> Task:
    """Parse a raw task; raise MalformedTask with a short reason for anything a worker cannot serve."""
    if len(raw) > MAX_TASK_BYTES:
        raise MalformedTask(f"task is {len(raw)} bytes, over the {MAX_TASK_BYTES} byte limit")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedTask(f"not valid JSON: {str(exc)[:120]}") from None
    if not isinstance(data, dict):
        raise MalformedTask(f"task must be a JSON object, got {type(data).__name__}")
    job_id = data.get("job_id")
    job_type = data.get("job_type")
    if not isinstance(job_id, str) or not job_id or len(job_id) > 200:
        raise MalformedTask("missing or invalid job_id (a non-empty string)")
    if not isinstance(job_type, str) or not job_type or len(job_type) > 100:
        raise MalformedTask("missing or invalid job_type (a non-empty string)")
    payload = data.get("payload", {})
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise MalformedTask(f"payload must be a JSON object, got {type(payload).__name__}")
    requested_by = data.get("requested_by")
    if requested_by is not None and not isinstance(requested_by, (str, int)):
        raise MalformedTask("requested_by must be a string or null")
    ttl = data.get("result_ttl", DEFAULT_RESULT_TTL)
    if ttl is None:
        ttl = DEFAULT_RESULT_TTL
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
        raise MalformedTask("result_ttl must be a positive number of seconds")
    return Task(
        job_type=job_type,
        payload=payload,
        job_id=job_id,
        requested_by=None if requested_by is None else str(requested_by),
        result_ttl=max(1, int(ttl)),
    )


def peek_job_id(raw: bytes | str) -> str | None:
    """Best-effort job_id of a task that failed to decode, so its producer can still be answered."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, dict) and isinstance(data.get("job_id"), str) and 0 < len(data["job_id"]) <= 200:
        return data["job_id"]
    return None


def ok(result: dict[str, Any]) -> dict[str, Any]:
    if "status" in result:
        # The envelope owns "status"; a handler returning its own would make ok and error ambiguous.
        raise ValueError("a handler result must not contain the key 'status'")
    return {"status": "ok", **result}


def error(message: str) -> dict[str, Any]:
    return {"status": "error", "error": message}


def encode_result(envelope: dict[str, Any]) -> bytes:
    return orjson.dumps(envelope)


def decode_result(raw: bytes | str) -> dict[str, Any]:
    data = orjson.loads(raw)
    if not isinstance(data, dict) or data.get("status") not in {"ok", "error"}:
        return error(f"malformed result envelope: {str(raw)[:200]}")
    return data
