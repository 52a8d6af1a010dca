#!/usr/bin/env python3
"""Validate recorded admin API responses against openapi/sipprov-v1.json.

Usage: openapi_check.py DOC LOG
LOG lines: METHOD PATH STATUS BODYFILE (tab separated).  For each, the
operation is found by path template and method, the response by status,
and the body validated (JSON Schema 2020-12, refs into the document).
Prints one TAP-style diagnostic per failure; exit 0 when all validate.
Not a general OpenAPI validator: only what sipprov-v1.json uses.
"""
import json
import re
import sys

import jsonschema


def main():
    doc = json.load(open(sys.argv[1]))
    paths = []
    for tmpl, item in doc["paths"].items():
        rx = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(tmpl)) + "$"
        paths.append((re.compile(rx), item))
    bad = 0
    n = 0
    for line in open(sys.argv[2]):
        method, path, status, bodyfile = line.rstrip("\n").split("\t")
        n += 1
        path = path.split("?")[0]
        item = next((it for rx, it in paths if rx.match(path)), None)
        where = f"{method} {path} {status}"
        if item is None:
            # An undocumented path must answer the documented 404 error.
            schema_ref = "#/components/schemas/Error"
            if status != "404":
                print(f"# {where}: path not in the document and not 404"); bad += 1; continue
        else:
            op = item.get(method.lower())
            if op is None:
                schema_ref = "#/components/schemas/Error"
                if status != "405":
                    print(f"# {where}: method not in the document and not 405"); bad += 1; continue
            else:
                resp = op["responses"].get(status)
                if resp is None:
                    print(f"# {where}: status {status} not documented for this operation"); bad += 1; continue
                if "$ref" in resp:
                    resp = doc["components"]["responses"][resp["$ref"].split("/")[-1]]
                content = resp.get("content", {})
                if "application/json" not in content:
                    continue
                schema_ref = None
                schema = content["application/json"]["schema"]
        body = open(bodyfile, "rb").read()
        try:
            inst = json.loads(body)
        except ValueError as e:
            print(f"# {where}: body is not JSON: {e}"); bad += 1; continue
        root = dict(doc)
        if schema_ref:
            root["$ref"] = schema_ref
        else:
            root.update(schema if "$ref" not in schema else {"$ref": schema["$ref"]})
            if "$ref" not in schema:
                root.pop("$ref", None)
        errs = sorted(jsonschema.Draft202012Validator(root).iter_errors(inst), key=str)
        if errs:
            bad += 1
            print(f"# {where}: {errs[0].message} at {list(errs[0].absolute_path)}")
    print(f"# {n} responses checked, {bad} invalid")
    return 1 if bad or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
