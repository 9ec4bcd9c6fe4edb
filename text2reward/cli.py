"""Command line (placeholder until the commands land)."""

import click


@click.group()
def main() -> None:
    """text2reward: reward programs for Gymnasium environments."""
