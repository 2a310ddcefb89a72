"""Click commands, one module each; ``cli.py`` assembles them. Modules import heavy libraries lazily."""
