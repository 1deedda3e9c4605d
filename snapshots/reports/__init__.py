"""Output: changes, histories, records and run reports as text, JSON, CSV or Markdown."""
