"""Prometheus metrics, defined once so every role exports the same names."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_SEEN = Counter("steward_messages_seen_total", "Guild and DM messages the gateway received")
SPAM_ACTIONS = Counter("steward_spam_actions_total", "Anti-spam actions taken", ["rule", "action"])
XP_AWARDED = Counter("steward_xp_awarded_total", "XP points awarded")
JOBS = Counter(
    "steward_jobs_total",
    "Job lifecycle events by type",
    ["job_type", "event"],  # enqueued, started, succeeded, failed, retried, dead
)
QUEUE_DEPTH = Gauge("steward_queue_depth", "Tasks waiting, in processing and dead", ["list"])
JOB_WAIT_SECONDS = Histogram(
    "steward_job_wait_seconds",
    "Producer-side time from enqueue to result",
    ["job_type"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 75),
)
JOB_RUN_SECONDS = Histogram(
    "steward_job_run_seconds",
    "Worker-side handler run time",
    ["job_type"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 75),
)
LLM_TOKENS = Counter("steward_llm_tokens_total", "LLM tokens used", ["kind"])  # prompt, completion
GATEWAY_CONNECTED = Gauge("steward_gateway_connected", "1 while the Discord gateway is connected")
