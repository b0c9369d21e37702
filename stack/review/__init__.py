"""The weekly review: the guide's post-launch checklist as a Markdown report from Prometheus (python -m stack.review)."""
