"""Critics: the static AST allow-list and the runtime checks on real state batches."""

from text2reward.critic.static import Finding, check_source

__all__ = ["Finding", "check_source"]
