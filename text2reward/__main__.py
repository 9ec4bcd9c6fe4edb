"""``python -m text2reward``: the same command line as ``text2reward``."""

from text2reward.cli import main

if __name__ == "__main__":
    main()
