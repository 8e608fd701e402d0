"""Training and evaluation machinery shared by the jobs, tuning and tests."""
