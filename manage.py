#!/usr/bin/env python
from episode_metadata.cli import main

if __name__ == "__main__":
    main()
