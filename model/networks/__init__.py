"""MMAction2 models of the project: object encoder, fusion necks and heads, recognizer."""
