#!/usr/bin/env python3
# Test stand-in for macOS plutil: the subset launchd-jobs-ea.sh uses, with
# plutil's documented behaviour: -convert json fails on <date>/<data> values
# and escapes "/" as NSJSONSerialization does; -extract KEY json refuses
# scalars (JSON fragments); -extract KEY raw prints scalars. KEY is a key
# path: "ProgramArguments.0" is the array's first element.
import json, plistlib, sys

def out(v):
    sys.stdout.write(json.dumps(v, separators=(",", ":"), ensure_ascii=False).replace("/", "\\/"))

try:
    a = sys.argv[1:]
    if a[:2] == ["-convert", "json"] and a[2:4] == ["-o", "-"]:
        with open(a[4], "rb") as f:
            out(plistlib.load(f))
    elif a[0] == "-extract" and a[3:5] == ["-o", "-"]:
        key, fmt = a[1], a[2]
        with open(a[5], "rb") as f:
            v = plistlib.load(f)
        for k in key.split("."):
            v = v[int(k)] if isinstance(v, list) else v[k]
        if fmt == "raw":
            if isinstance(v, bool):
                print("true" if v else "false")
            elif isinstance(v, (int, str)):
                print(v)
            else:
                sys.exit(1)
        elif fmt == "json" and isinstance(v, (dict, list)):
            out(v)
        else:
            sys.exit(1)
    else:
        sys.exit(2)
except Exception:
    sys.exit(1)
