"""Safety scans: scanners behind one interface (rules, openai moderation, guard LLM), the `safety_scan` job
(`bot.safety.jobs`), and the gateway's pure decisions (what to scan, what to do about a verdict)."""
