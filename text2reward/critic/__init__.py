"""Critics: the static AST allow-list (``static``, over the numpy surface of ``surface``), the
runtime checks on real state batches and probed states (``runtime``, ``probes``), success
files (``success``) and the adaptation of harmless habits before them (``adapt``). The
sandbox they run in is ``text2reward.sandbox``."""

from text2reward.critic.static import Finding, check_source

__all__ = ["Finding", "check_source"]
