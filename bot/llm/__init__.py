"""LLM replies: pure core (triggers, context, quotas, output) and the `llm_reply` worker job (`bot.llm.jobs`)."""
