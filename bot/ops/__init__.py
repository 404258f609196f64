"""Running Steward for real: the status notifier and alerts, /metrics + /healthz, command sync, sharding.

One idea per module: `notify` (webhook embeds), `alerts` (what the running bot tells the status webhook, rate
limited), `health` (the per-process HTTP server), `instrument` (job metrics at the queue/handler boundary),
`sync` (`bot sync-commands`), `sharding` (shard settings -> nextcord arguments), `cli` (the typer commands).
"""
