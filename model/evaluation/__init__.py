"""Metrics and reports of the recognizer (scikit-learn metrics, Markdown, PNG)."""
