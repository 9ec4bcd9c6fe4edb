"""The search for a reward program: rounds of proposals, critics, trainings and feedback.

- ``start``: the one way to set up and run a search (``prepare``, ``search``, ``restore``);
- ``loop``: the rounds, top to bottom;
- ``candidate``: one candidate's story, from the critics to its training;
- ``records``: the typed records of a candidate's life, and the ranking;
- ``stopping`` and ``halving``: when trainings and the search stop early;
- ``dedupe``, ``usage``, ``review``, ``reeval``, ``summary``, ``resume``: the rest of a
  search's concerns, one per module.
"""
