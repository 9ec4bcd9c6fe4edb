"""Training inside a sandboxed worker: the reward VecEnv wrapper and its step buffer, the SB3
trainer, presets, callbacks and observation normalisation. The workers and executors are
``text2reward.sandbox``; the search that runs them is ``text2reward.search``."""
