"""The framework-neutral runtime of the commands: the console scripts."""
