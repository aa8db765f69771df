"""One module per subcommand, each with `run(...) -> int`. Parsing lives in `main`."""
