"""Training: the Ray Train worker loop, its optimizer and schedules, metric logs."""
