"""Validates a SARIF file against the official schema; prints each error, exits 1 on any."""
import json
import sys

from jsonschema import validators

schema = json.load(open(sys.argv[1], encoding="utf-8"))
doc = json.load(open(sys.argv[2], encoding="utf-8"))
cls = validators.validator_for(schema)
cls.check_schema(schema)
validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
for e in errors:
    print("/".join(map(str, e.absolute_path)) + ": " + e.message)
print(f"{len(errors)} schema errors in {sys.argv[2]} ({len(doc['runs'][0]['results'])} results)")
sys.exit(1 if errors else 0)
