"""Analysis of trainings: reflection for the designer, findings, and selection."""
