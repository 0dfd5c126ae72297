"""`python -m bench.bare.queries AUTHORIZATION EPISODE_ID`: the SQL queries of each compared
endpoint on the bare app, counted as they are for the service (bench/endpoints.py), as JSON."""

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.bare.settings")
django.setup()

from bench.endpoints import count_queries

if __name__ == "__main__":
    print(json.dumps(count_queries(sys.argv[1], sys.argv[2])))
