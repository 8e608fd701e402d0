"""MMAction2 transforms of the project (pose + object pipelines)."""
