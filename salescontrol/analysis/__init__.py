"""Upsell analysis of dialogue transcripts: PII masking, an LLM and an offline rules analyzer.

`analyze_text()` (in `service`) is the one code path the analyze function and the CLI
share; `store` reads transcripts and writes results for the function.
"""
