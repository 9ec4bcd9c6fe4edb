"""Analysis of trainings: the reflection and findings the designer is given, the trajectories
kept from trainings, and the pre-screen that judges new candidates on them (``screening``,
``prescreen``). The ranking of candidates is ``search/records.rank_key``."""
