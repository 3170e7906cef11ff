"""Checks template.yaml against the code: the DynamoDB table it declares must be exactly the
table `tokenmint store init` creates (`tokenmint store schema` prints it).

usage: python check-template.py TEMPLATE SCHEMA_JSON   (run with .venv/sam's python: cfn-lint)
"""
import json
import sys

from cfnlint.decode import decode

template, errors = decode(sys.argv[1])
if errors:
    sys.exit(f"cannot read {sys.argv[1]}: {errors}")
declared = template["Resources"]["Table"]["Properties"]
with open(sys.argv[2]) as f:
    expected = json.load(f)

problems = [
    f"Table.{key}: template has {json.dumps(declared.get(key))}, code creates {json.dumps(value)}"
    for key, value in expected.items()
    if declared.get(key) != value
]
if problems:
    sys.exit("template.yaml and tokenmint store init disagree:\n  " + "\n  ".join(problems))
print(f"template.yaml declares the table tokenmint creates ({', '.join(expected)})")
